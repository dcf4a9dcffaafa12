// ClientSession's transaction pooling: a connection is checked out for a command when the
// session holds none, restored to the session's state in the command's own write, and given
// back as soon as the session may move (docs/PROXY.md, "Transaction pooling").
#include "common/log.h"
#include "common/log_text.h"
#include "proxy/client_session.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

using protocol::ErrPacket;

net::Awaitable<std::optional<ErrPacket>> ClientSession::CheckOut() {
  restore_.reset();
  const std::uint64_t prefer = StateFingerprint(state_.schema(), state_.variables());
  auto acquire = AcquireBackend(prefer);
  if (auto refused = co_await std::move(acquire)) co_return refused;
  revealed_thread_ = false;  // Another thread id, maybe.
  if (stats_) stats_->reattaches.fetch_add(1, std::memory_order_relaxed);
  RestorePlan plan = PlanRestore(backend_.connection(), state_, started_at_);
  if (plan.needs_schema_clear) {
    // Only COM_CHANGE_USER takes the schema away: a round trip of its own (rare: a session
    // without a schema in a pool whose connections have one).
    auto cleared = co_await backend_->ChangeUser(*secret_, backend_->state().key.collation);
    if (!cleared.ok()) {
      Log(LogLevel::kWarning, id_, "backend connection {} lost clearing its schema: {}",
          backend_.thread_id(), cleared.error().message);
      backend_.Discard();
      co_return BackendUnavailable("cannot clear the schema: " + cleared.error().message);
    }
    plan = PlanRestore(backend_.connection(), state_, started_at_);
  }
  if (!plan.empty()) {
    Log(LogLevel::kDebug, id_, "restoring the session on backend connection {}:{}{}{}",
        backend_.thread_id(), plan.reset ? " reset" : "",
        plan.assignments.empty() ? "" : " " + LogQuoted(plan.assignments),
        plan.init_db ? " schema " + LogQuoted(state_.schema()) : "");
    if (stats_) {
      stats_->state_replays.fetch_add(1, std::memory_order_relaxed);
      if (plan.reset) stats_->resets_for_replay.fetch_add(1, std::memory_order_relaxed);
    }
    restore_ = std::move(plan);
  }
  synced_ = true;
  UpdatePoolStats();
  co_return std::nullopt;
}

void ClientSession::PrepareRelay(CommandRelay& relay, protocol::Command command,
                                 bool reads_previous) {
  if (restore_) {
    relay.Prepend(restore_->commands, restore_->replies);
    MarkRestored(&backend_->state(), state_, restore_->reset);
    restore_.reset();
  }
  if (command == protocol::Command::kQuery && !reads_previous && !state_.last_insert_id_known()) {
    // The statement about to run clears what the last one left anyway: ask for
    // LAST_INSERT_ID() ahead of it, so that the session can move after it.
    const protocol::Bytes query =
        protocol::Frame(protocol::Encode(protocol::Query{kLastInsertIdQuery}), 0);
    relay.Prepend(query, 1);
  }
  relay.FilterTracking(&state_.tracking());
}

void ClientSession::ReleaseIfMovable() {
  if (!backend_.held()) return;
  const std::uint16_t status = backend_->state().status_flags;
  const bool statement_hold = statements_ && statements_->hold() != PinReason::kNone;
  if (state_.movable(status) && !statement_hold) {
    // A restore planned but never sent (the proxy answered the command itself): the
    // connection still has its own state.
    const bool synced = synced_ && !restore_;
    restore_.reset();
    backend_.ReleaseKept(state_, synced);
    synced_ = false;
    if (stats_) stats_->releases.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const PinReason reason = SessionPin();
  if (reason != counted_pin_ && reason != PinReason::kNone &&
      LastsOf(reason) == PinLasts::kUntilReset) {
    Log(LogLevel::kDebug, id_, "pinned to backend connection {}: {}", backend_.thread_id(),
        PinReasonText(reason));
  }
}

PinReason ClientSession::SessionPin() const {
  const PinReason pin = state_.pin_reason();
  if (pin != PinReason::kNone || !statements_) return pin;
  return statements_->hold();
}

void ClientSession::JoinPoolStats() {
  UpdatePoolStats(/*gone=*/true);
  virtual_statements_ = VirtualStatements();
  if (backend_.held()) last_status_ = backend_->state().status_flags;
  stats_ = context_.pool_stats().Cell(Key());
  stats_->clients.fetch_add(1, std::memory_order_relaxed);
  stats_->logins.fetch_add(1, std::memory_order_relaxed);
  context_.NoteLogin();
  client_.TakeTraffic();  // The login's bytes are not a command's.
}

net::Awaitable<std::optional<ErrPacket>> ClientSession::AcquireBackend(std::uint64_t prefer) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  // At login the session has not joined its pool's counters yet.
  const std::shared_ptr<PoolStatsCell> cell = stats_ ? stats_ : context_.pool_stats().Cell(Key());
  cell->clients_waiting.fetch_add(1, kRelaxed);
  waiting_ = true;
  const pool::Clock::time_point start = pool::Clock::now();
  auto acquire = backend_.Acquire(client_.executor(), Key(), *secret_, prefer);
  std::optional<ErrPacket> refused = co_await std::move(acquire);
  cell->checkout_wait.Observe(pool::Clock::now() - start);
  cell->clients_waiting.fetch_sub(1, kRelaxed);
  waiting_ = false;
  co_return refused;
}

void ClientSession::CountCommand(protocol::Command command, pool::Clock::time_point start,
                                 bool failed) {
  if (!stats_) return;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  PoolStatsCell& cell = *stats_;
  cell.commands.fetch_add(1, kRelaxed);
  using protocol::Command;
  const bool statement = command == Command::kQuery || command == Command::kStmtExecute;
  if (statement) cell.queries.fetch_add(1, kRelaxed);
  if (failed) cell.errors.fetch_add(1, kRelaxed);
  // A transaction ends when the session leaves one, or runs a statement outside one
  // (autocommit).
  const std::uint16_t status =
      backend_.held() ? backend_->state().status_flags : (backend_.lost() ? 0 : last_status_);
  const bool in_transaction = (status & protocol::status::kInTrans) != 0;
  if (!in_transaction && (in_transaction_ || statement)) cell.transactions.fetch_add(1, kRelaxed);
  in_transaction_ = in_transaction;
  const ClientChannel::Traffic traffic = client_.TakeTraffic();
  if (traffic.received != 0) cell.bytes_from_clients.fetch_add(traffic.received, kRelaxed);
  if (traffic.sent != 0) cell.bytes_to_clients.fetch_add(traffic.sent, kRelaxed);
  const pool::Clock::duration elapsed = pool::Clock::now() - start;
  cell.command_latency.Observe(elapsed);
  if (!digest_text_.empty()) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    context_.query_digests().Record(digest_text_, digest_truncated_,
                                    static_cast<std::uint64_t>(us > 0 ? us : 0), last_rows_,
                                    failed);
  }
}

void ClientSession::NoteDigestText(std::string_view text, bool truncated) {
  if (!context_.query_digests().enabled()) return;
  digest_text_.assign(text.substr(0, QueryDigests::kMaxShapeBytes));
  digest_truncated_ = truncated || text.size() > QueryDigests::kMaxShapeBytes;
}

void ClientSession::UpdatePoolStats(bool gone) {
  if (!stats_) return;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  const bool holding = !gone && backend_.held();
  if (holding != counted_holding_) {
    stats_->clients_holding.fetch_add(holding ? 1 : -1, kRelaxed);
    counted_holding_ = holding;
  }
  const PinReason pin = gone || !backend_.held() ? PinReason::kNone : SessionPin();
  if (pin != counted_pin_) {
    if (counted_pin_ != PinReason::kNone) {
      stats_->pinned[static_cast<std::size_t>(counted_pin_)].fetch_sub(1, kRelaxed);
    }
    if (pin != PinReason::kNone) {
      stats_->pinned[static_cast<std::size_t>(pin)].fetch_add(1, kRelaxed);
    }
    counted_pin_ = pin;
  }
  if (gone) {
    stats_->clients.fetch_sub(1, kRelaxed);
    stats_.reset();
  }
}

}  // namespace longlink::proxy
