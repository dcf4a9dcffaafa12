// ClientSession's login and COM_CHANGE_USER: the client is logged in at the proxy
// (ClientLogin), counted against max_user_connections, and given a backend of its pool, at
// once or with its first command (docs/PROXY.md, "Login").
#include <asio/steady_timer.hpp>

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "proxy/client_login.h"
#include "proxy/client_session.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

namespace {

// A failed COM_CHANGE_USER is answered after this long, and from the fourth attempt in a
// session on with "Unknown command", as MariaDB does (sql_parse.cc, COM_CHANGE_USER).
constexpr auto kFailedChangeUserDelay = std::chrono::seconds(1);
constexpr std::uint8_t kMaxFailedChangeUsers = 3;

}  // namespace

bool ClientSession::CountUser(const std::string& user, std::uint32_t limit) {
  // A session counts once, as its current user (COM_CHANGE_USER moves it).
  if (counted_user_ == user) return true;
  if (!context_.AdmitUser(user, limit)) return false;
  if (counted_user_) context_.UserGone(*counted_user_);
  counted_user_ = user;
  return true;
}

ErrPacket ClientSession::UserLimitError(const std::string& user, std::uint32_t limit) {
  return MakeErrPacket(server_error::kUserLimitReached,
                       "User '" + user + "' has exceeded the 'max_user_connections' resource " +
                           "(current value: " + std::to_string(limit) + ")");
}

net::Awaitable<bool> ClientSession::LogIn() {
  ClientLogin login(context_, client_, id_, peer_host_);
  Admission admission;
  auto request = co_await login.GreetAndAuthenticate(admitted_, &admission);
  if (!request) co_return false;
  if (!CountUser(request->user, admission.max_user_connections)) {
    const ErrPacket error_packet = UserLimitError(request->user, admission.max_user_connections);
    co_await client_.SendError(error_packet, request->sequence);
    co_return false;
  }
  user_ = std::move(request->user);
  collation_ = request->collation;
  scramble_ = request->scramble;
  secret_ = std::move(admission.secret);
  expired_password_ = admission.password_expired;
  key_transaction_pooling_ = context_.TransactionPoolingFor(user_) && !expired_password_;
  state_.set_transaction_pooling(key_transaction_pooling_);
  const std::optional<pool::FreshSession> fresh = context_.pools().FreshSessionSeen();
  std::uint16_t status = 0;
  if (fresh && CanLogInAlone(request->schema)) {
    // Answered here: the backend comes with the first command (AttachBackend) or, in
    // transaction pooling, with each transaction (CheckOut).
    BeginSession(request->schema, fresh->tracking);
    attach_due_ = !transaction_pooling();
    status = fresh->status_flags;
  } else {
    bool fatal = false;
    auto attach = AttachBackend(request->schema, &fatal);
    if (auto refused = co_await std::move(attach)) {
      co_await client_.SendError(*refused, request->sequence);
      co_return false;
    }
    status = LoginStatus(fresh);
  }
  if (!co_await client_.SendOk(status, request->sequence)) co_return false;
  JoinPoolStats();
  last_status_ = status;  // What a reply the proxy makes carries until the server's first.
  // After the OK that ends the login, both directions are framed (the client sent nothing
  // since its handshake response: it waits for that OK).
  if (client_.capabilities() & protocol::capability::kCompress) {
    client_.stream().StartCompression(net::CompressionLayer::Role::kFacingClient);
  }
  if (!client_.has_input()) client_.GiveBack();
  if (transaction_pooling()) ReleaseIfMovable();
  UpdatePoolStats();
  co_return true;
}

bool ClientSession::CanLogInAlone(const std::string& schema) const {
  // The first login learns the server's identity (the greeting's version) and the first
  // connection what a fresh session starts with; an expired password's session is the
  // server's to sandbox.
  if (expired_password_ || !context_.server_identity_known()) return false;
  return schema.empty() || context_.known_schemas().Known(user_, schema);
}

void ClientSession::BeginSession(const std::string& schema, const pool::TrackerSettings& tracking) {
  ForgetSessionState();
  revealed_thread_ = false;
  synced_ = false;
  started_at_ = pool::Clock::now();
  state_.set_schema(schema);
  state_.set_tracking(tracking);
}

std::uint16_t ClientSession::LoginStatus(const std::optional<pool::FreshSession>& fresh) const {
  // A connection still to be reset (with the first command) has its last client's flags.
  if (backend_.reset_due() && fresh) return fresh->status_flags;
  return backend_->state().status_flags;
}

net::Awaitable<std::optional<ErrPacket>> ClientSession::AttachBackend(const std::string& schema,
                                                                      bool* fatal) {
  *fatal = false;
  BeginSession(schema, state_.tracking());
  // In session pooling a connection goes back to its pool with its schema (not reset): one
  // already in `schema` needs no COM_INIT_DB.
  auto acquire = AcquireBackend(StateFingerprint(schema, pool::SessionVariables()));
  if (auto refused = co_await std::move(acquire)) co_return refused;
  attach_due_ = false;
  if (!context_.server_identity_known()) context_.LearnServerIdentity(backend_->state().server);
  if (transaction_pooling() && !backend_->state().variables.empty()) {
    // Another client's variables: the login's OK must show a fresh session's status.
    auto reset = co_await backend_->Reset(context_.config().backend.connect_timeout);
    if (!reset.ok()) {
      backend_.Discard();
      co_return BackendUnavailable("backend lost while resetting it: " + reset.error().message);
    }
  }

  if (!schema.empty() && backend_->state().schema != schema) {
    // A reset due goes in the same round trip (one is spent on the schema anyway).
    std::optional<ErrPacket> refused;
    longlink::Status done;
    if (backend_.reset_due()) {
      auto reset =
          backend_->ResetAndInitDb(context_.config().backend.connect_timeout, schema, &refused);
      done = co_await std::move(reset);
    } else {
      auto init = backend_->InitDb(schema, &refused);
      done = co_await std::move(init);
    }
    backend_.ResetDone();
    if (!done.ok()) {
      backend_.Discard();
      co_return BackendUnavailable("backend lost while selecting the schema: " +
                                   done.error().message);
    }
    if (refused) {
      // The session cannot have its schema. Run() returns the backend to the pool.
      context_.known_schemas().Note(user_, schema, /*exists=*/false);
      *fatal = true;
      co_return refused;
    }
  } else if (schema.empty() && !backend_->state().schema.empty()) {
    // COM_CHANGE_USER makes a fresh session from the globals of now: a reset as well.
    auto done = co_await backend_->ChangeUser(*secret_, backend_->state().key.collation);
    backend_.ResetDone();
    if (!done.ok()) {
      backend_.Discard();
      co_return BackendUnavailable("cannot clear the schema: " + done.error().message);
    }
  }
  context_.known_schemas().Note(user_, schema, /*exists=*/true);
  state_.set_schema(backend_->state().schema);
  state_.set_tracking(backend_->state().global_tracking);
  UpdatePoolStats();
  co_return std::nullopt;
}

net::Awaitable<Outcome> ClientSession::HandleChangeUser() {
  net::PacketRead read;
  { read = co_await client_.ReadPacket(ClientLogin::kPacketLimit); }
  if (!read.ok()) co_return Outcome::kClientGone;
  auto change = protocol::Decode<protocol::ChangeUser>(read.packet.payload, client_.capabilities());
  std::uint8_t sequence = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
  if (!change.ok()) {
    {
      const ErrPacket error_packet = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
      co_await client_.SendError(error_packet, sequence);
    };
    co_return Outcome::kClientError;
  }
  std::optional<Admission> admission;
  std::optional<ErrPacket> rejection;
  if (failed_change_users_ >= kMaxFailedChangeUsers) {
    // As the server: after three failures it does not even try.
    rejection = MakeErrPacket(server_error::kUnknownComError, "Unknown command");
  } else {
    const std::string plugin = change->auth_plugin_name.empty()
                                   ? std::string(protocol::auth_plugin::kNativePassword)
                                   : change->auth_plugin_name;
    ClientLogin login(context_, client_, id_, peer_host_);
    auto authenticate = login.Authenticate(change->username, change->auth_response, plugin,
                                           &sequence, scramble_, &rejection);
    admission = co_await std::move(authenticate);
    if (!admission && !rejection) co_return Outcome::kClientGone;
    if (admission && !CountUser(change->username, admission->max_user_connections)) {
      rejection = UserLimitError(change->username, admission->max_user_connections);
    }
  }
  if (rejection) co_return co_await RefuseChangeUser(*rejection, sequence);
  // The old session ends: its backend goes back reset; the new user gets one of its own pool.
  co_await backend_.Release(/*clean=*/true, LeavesServerState());
  statements_.reset();
  user_ = change->username;
  secret_ = std::move(admission->secret);
  expired_password_ = admission->password_expired;
  key_transaction_pooling_ = context_.TransactionPoolingFor(user_) && !expired_password_;
  state_.set_transaction_pooling(key_transaction_pooling_);
  if (change->character_set != 0) collation_ = static_cast<std::uint8_t>(change->character_set);
  bool fatal = false;
  auto attach = AttachBackend(change->database, &fatal);
  if (auto refused = co_await std::move(attach)) {
    co_await client_.SendError(*refused, sequence);
    co_return Outcome::kClientError;
  }
  JoinPoolStats();
  const std::uint16_t status = LoginStatus(context_.pools().FreshSessionSeen());
  last_status_ = status;
  if (!co_await client_.SendOk(status, sequence)) co_return Outcome::kClientGone;
  Log(LogLevel::kDebug, id_, "changed user to {}", LogQuoted(user_));
  co_return Outcome::kOk;
}

net::Awaitable<Outcome> ClientSession::RefuseChangeUser(ErrPacket error, std::uint8_t sequence) {
  // MariaDB has already reset the session when it checks the new account; when that fails it
  // keeps the old user, schema and handshake character set, and answers after a second (to
  // slow down guessing). A COM_RESET_CONNECTION leaves the backend in that state.
  ++failed_change_users_;
  ForgetSessionState();
  if (backend_.held()) {
    auto reset = co_await backend_->Reset(context_.config().backend.connect_timeout);
    if (!reset.ok()) LoseBackend("reset after a failed COM_CHANGE_USER: " + reset.error().message);
  } else {
    backend_.UnpinLost();  // Nothing of the old session's state is left to lose.
  }
  static LogRateLimit refusals;
  if (auto note = refusals.Admit(); note.write) {
    Log(LogLevel::kInfo, id_, "COM_CHANGE_USER refused ({} failed in this session): {}{}",
        failed_change_users_, LogQuoted(error.message), note.suffix);
  }
  asio::steady_timer pause(client_.executor(), kFailedChangeUserDelay);
  co_await pause.async_wait(net::kNoThrow);
  if (!co_await client_.SendError(error, sequence)) co_return Outcome::kClientGone;
  co_return Outcome::kOk;
}

}  // namespace longlink::proxy
