#include "proxy/backend_lease.h"

#include <charconv>

#include "common/log.h"
#include "common/log_text.h"
#include "proxy/proxy_errors.h"
#include "proxy/session_restore.h"

namespace longlink::proxy {

using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

BackendLease::BackendLease(pool::Pools& pools, std::uint64_t session,
                           std::chrono::milliseconds timeout)
    : pools_(pools), session_(session), timeout_(timeout) {}

BackendLease::~BackendLease() { Discard(); }

net::Awaitable<std::optional<ErrPacket>> BackendLease::Acquire(asio::any_io_executor executor,
                                                               pool::PoolKey key,
                                                               const auth::LoginSecret& secret,
                                                               std::uint64_t prefer) {
  const pool::Clock::time_point started = pool::Clock::now();
  const bool transaction_pooling = key.transaction_pooling;
  auto checkout = co_await pools_.Acquire(executor, key, secret, session_, prefer);
  if (!checkout.connection) {
    ErrPacket error;
    if (checkout.failure == pool::CheckoutFailure::kPoolFull) {
      error = MakeErrPacket(server_error::kConCountError,
                            "Too many connections: longlink: " + checkout.error);
    } else if (checkout.server_error) {
      error = protocol::WithSqlState(*checkout.server_error);
    } else {
      error = BackendUnavailable(checkout.error);
    }
    Log(LogLevel::kWarning, session_, "no backend for {}: {}", LogQuoted(key.user), checkout.error);
    co_return error;
  }
  connection_ = std::move(checkout.connection);
  acquired_at_ = pool::Clock::now();
  lost_.reset();
  reusable_ = true;
  // Transaction pooling knows each connection's state and restores the session's instead
  // (session_restore.h).
  reset_due_ = !transaction_pooling && connection_->state().created_at < started;
  ++generation_;
  co_return std::nullopt;
}

net::Awaitable<void> BackendLease::Release(bool clean, bool reset_now) {
  if (!connection_) co_return;
  if (!clean || !reusable_) {
    Discard();
    co_return;
  }
  auto connection = std::move(connection_);
  const bool reset = reset_now || connection->state().key.transaction_pooling;
  // A reset keeps the schema: the next session that wants this one prefers this connection.
  connection->state().fingerprint =
      StateFingerprint(connection->state().schema, pool::SessionVariables());
  co_await pools_.Release(std::move(connection), session_, reset);
}

void BackendLease::ReleaseKept(const SessionState& state, bool synced) {
  if (!connection_) return;
  if (!reusable_) {
    Discard();
    return;
  }
  pool::BackendState& backend = connection_->state();
  if (synced) MarkRestored(&backend, state, /*reset=*/false);
  if (const std::string* timeout = backend.variables.Find("wait_timeout")) {
    // The client's own wait_timeout: the pool's keepalive must come sooner than that.
    std::uint32_t seconds = 0;
    const auto [end, error] =
        std::from_chars(timeout->data(), timeout->data() + timeout->size(), seconds);
    if (error == std::errc() && seconds > 0 && seconds < backend.wait_timeout) {
      backend.wait_timeout = seconds;
    }
  }
  backend.fingerprint = StateFingerprint(backend.schema, backend.variables);
  pools_.ReleaseKept(std::move(connection_), session_);
}

void BackendLease::Discard() {
  if (connection_) pools_.Discard(std::move(connection_));
  reusable_ = true;
}

bool BackendLease::pinned(const SessionState& state) const {
  return connection_ && !state.clean(connection_->state().status_flags);
}

void BackendLease::Lose(const SessionState& state, std::optional<ErrPacket> server_error,
                        PinReason held_by) {
  const std::uint16_t status = connection_->state().status_flags;
  const bool held = held_by != PinReason::kNone && state.clean(status);
  lost_ = std::make_unique<LostConnection>(LostConnection{
      .pinned = !state.clean(status) || held,
      .schema = connection_->state().schema,
      .reason = std::string(held ? PinReasonText(held_by) : state.dirty_reason(status)),
      .server_error = std::move(server_error),
  });
  Discard();
}

void BackendLease::UnpinLost() {
  if (!lost_) return;
  lost_->pinned = false;
  lost_->reason.clear();
}

net::Awaitable<std::optional<ErrPacket>> BackendLease::Replace(asio::any_io_executor executor,
                                                               pool::PoolKey key,
                                                               const auth::LoginSecret& secret,
                                                               const SessionState& state,
                                                               bool reads_previous, bool* fatal) {
  *fatal = true;
  if (lost_->pinned && lost_->server_error) co_return protocol::WithSqlState(*lost_->server_error);
  if (lost_->pinned || reads_previous) {
    const std::string why = lost_->pinned
                                ? "its session state (" + lost_->reason + ") is gone"
                                : std::string("the command reads the previous statement's results");
    co_return MakeErrPacket(server_error::kConnectionKilled,
                            "Connection was killed: longlink lost the backend connection while "
                            "the client was idle, and " +
                                why);
  }
  *fatal = false;
  const std::string schema = lost_->schema;
  auto acquire = Acquire(executor, key, secret);
  if (auto refused = co_await std::move(acquire)) co_return refused;  // Still lost.
  std::string failed;
  if (reset_due_) {
    auto done = co_await connection_->Reset(timeout_);
    if (!done.ok()) failed = "reset: " + done.error().message;
    reset_due_ = false;
  }
  if (!schema.empty() && failed.empty()) {
    std::optional<ErrPacket> refused;
    auto done = co_await connection_->InitDb(schema, &refused);
    if (!done.ok()) failed = done.error().message;
    if (refused) failed = "schema " + LogQuoted(schema) + ": " + refused->message;
  }
  for (const std::string& statement : state.replay()) {
    if (!failed.empty()) break;
    auto done = co_await connection_->Execute(statement);
    if (!done.ok()) failed = LogQuoted(statement) + ": " + done.error().message;
  }
  if (!failed.empty()) {
    Log(LogLevel::kWarning, session_, "cannot restore the session on a fresh backend: {}", failed);
    Discard();
    *fatal = true;
    co_return MakeErrPacket(server_error::kConnectionKilled,
                            "Connection was killed: longlink lost the backend connection while "
                            "the client was idle and could not restore the session: " +
                                failed);
  }
  Log(LogLevel::kInfo, session_, "continuing on backend connection {} (schema {}, {} SET replayed)",
      connection_->state().thread_id, LogQuoted(schema), state.replay().size());
  co_return std::nullopt;
}

}  // namespace longlink::proxy
