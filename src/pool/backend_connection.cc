#include "pool/backend_connection.h"

#include <algorithm>
#include <asio/buffer.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <cstring>
#include <mutex>
#include <set>

#include "net/close_after_peer.h"
#include "net/packet_io.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/response.h"
#include "protocol/session_track.h"
#include "version.h"

namespace longlink::pool {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::ByteView;
using protocol::Capabilities;

namespace {

// Packets the proxy reads for itself are small; results it relays are streamed elsewhere.
constexpr std::size_t kControlPacketLimit = 1 << 20;
// Packets the server may send before its OK or ERR ends a login: a switch, and
// caching_sha2_password's fast-auth result, public key and full authentication.
constexpr int kMaxAuthRounds = 6;
// ER_MUST_CHANGE_PASSWORD: a statement other than SET PASSWORD in a sandboxed session.
constexpr std::uint16_t kMustChangePassword = 1820;

// Always requested from the backend, when it offers them.
constexpr Capabilities kAlwaysRequested =
    cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
    cap::kPluginAuthLenencClientData | cap::kConnectAttrs | cap::kSessionTrack | cap::kTransactions;

std::string ServerErrorText(const protocol::ErrPacket& err) {
  return "server error " + std::to_string(err.code) + ": " + err.message;
}

// Several commands framed back to back (each from sequence id 0), to send in one write: one
// system call and one wake-up of the server for a pipeline.
Bytes Pipeline(std::initializer_list<ByteView> commands) {
  Bytes out;
  for (ByteView command : commands) {
    const Bytes framed = protocol::Frame(command, 0);
    out.insert(out.end(), framed.begin(), framed.end());
  }
  return out;
}

// Server errors at connect that mean "not now" rather than "never".
bool IsRetryableServerError(std::uint16_t code) {
  return code == 1040 /* ER_CON_COUNT_ERROR */ || code == 1053 /* ER_SERVER_SHUTDOWN */ ||
         code == 1203 /* ER_TOO_MANY_USER_CONNECTIONS */ || code == 1927 /* killed */;
}

}  // namespace

std::string_view InternServerVersion(std::string_view version) {
  static std::mutex mutex;
  static std::set<std::string, std::less<>> versions;  // Nodes never move.
  std::lock_guard lock(mutex);
  auto it = versions.find(version);
  if (it == versions.end()) it = versions.emplace(version).first;
  return *it;
}

ServerScramble::ServerScramble(std::string_view data) {
  size_ = static_cast<std::uint8_t>(std::min(data.size(), bytes_.size()));
  std::memcpy(bytes_.data(), data.data(), size_);
}

ServerIdentity IdentityOf(const protocol::HandshakeV10& greeting) {
  return ServerIdentity{.version = InternServerVersion(greeting.server_version),
                        .capabilities = greeting.capabilities,
                        .collation = greeting.character_set,
                        .status_flags = greeting.status_flags};
}

std::string IdleSocketNews(const net::ByteStream& stream) {
  std::uint8_t bytes[512];
  std::error_code error;
  const std::size_t n = stream.Peek(bytes, error);
  if (error == std::errc::operation_would_block) return "nothing to read";
  if (error) return "socket error: " + error.message();
  if (n == 0) return "closed by the server";
  const ByteView data(bytes, n);
  if (data.size() > protocol::kPacketHeaderSize && data[protocol::kPacketHeaderSize] == 0xff) {
    const auto header = protocol::DecodePacketHeader(data);
    const ByteView payload = data.subspan(protocol::kPacketHeaderSize);
    if (header && header->payload_length <= payload.size()) {
      auto err = protocol::Decode<protocol::ErrPacket>(payload.first(header->payload_length),
                                                       cap::kProtocol41);
      if (err.ok()) return ServerErrorText(*err);
    }
  }
  return "sent " + std::to_string(n) + " unexpected bytes";
}

std::optional<protocol::ErrPacket> IdleSocketError(const net::ByteStream& stream) {
  std::uint8_t bytes[512];
  std::error_code error;
  const std::size_t n = stream.Peek(bytes, error);
  if (error || n == 0) return std::nullopt;
  const ByteView data(bytes, n);
  if (data.size() <= protocol::kPacketHeaderSize || data[protocol::kPacketHeaderSize] != 0xff) {
    return std::nullopt;
  }
  const auto header = protocol::DecodePacketHeader(data);
  const ByteView payload = data.subspan(protocol::kPacketHeaderSize);
  if (!header || header->payload_length > payload.size()) return std::nullopt;
  auto err = protocol::Decode<protocol::ErrPacket>(payload.first(header->payload_length),
                                                   cap::kProtocol41);
  if (!err.ok()) return std::nullopt;
  return *err;
}

bool IdleSocketWasReset(const net::ByteStream& stream) {
  std::uint8_t byte = 0;
  std::error_code error;
  stream.Peek(std::span<std::uint8_t>(&byte, 1), error);
  return error == std::errc::connection_reset;
}

void IdleBackend::QuitAndClose(const asio::any_io_executor& executor) {
  if (!stream_.is_open()) return;
  const Bytes quit = protocol::Frame(protocol::EncodeCommand(protocol::Command::kQuit), 0);
  stream_.SendNow(quit);
  net::CloseAfterPeer(std::move(stream_), executor, kQuitTimeout);
}

std::unique_ptr<BackendConnection> BackendConnection::Adopt(asio::any_io_executor executor,
                                                            IdleBackend idle) {
  if (!idle.stream_.Rebind(executor)) return nullptr;  // Closed.
  auto connection =
      std::make_unique<BackendConnection>(std::move(idle.stream_), std::move(idle.state_));
  connection->registry_id_ = idle.registry_id;
  return connection;
}

IdleBackend BackendConnection::Park() && {
  IdleBackend idle(std::move(stream_), std::move(state_));
  idle.registry_id = registry_id_;
  return idle;
}

net::Awaitable<OpenResult> BackendConnection::Open(asio::any_io_executor executor,
                                                   const BackendEndpoint& endpoint,
                                                   const PoolKey& key,
                                                   const auth::LoginSecret& secret) {
  OpenResult result;
  const config::SocketAddress& address = endpoint.address();
  const std::chrono::milliseconds timeout = endpoint.connect_timeout();
  const net::TlsContextPtr tls = endpoint.tls();
  const std::string where = address.ToString();
  auto socket = co_await net::Connect(executor, address, timeout);
  if (!socket.ok()) {
    result.error = socket.error().message;
    result.retryable = true;
    co_return result;
  }
  auto connection =
      std::make_unique<BackendConnection>(net::ByteStream(std::move(*socket)), BackendState{});
  BackendState& state = connection->state_;
  net::Deadline deadline(connection->stream_.lowest_layer(), timeout);
  // Until the login succeeds, a lost connection means the server is not (yet) serving.
  result.retryable = true;
  auto fail = [&](std::string why) {
    result.error = "backend " + where + ": " +
                   (deadline.expired()
                        ? "no answer within " + std::to_string(timeout.count()) + " ms during login"
                        : std::move(why));
    return std::move(result);
  };

  auto greeting_read =
      co_await net::ReadPacket(connection->stream_, connection->Buffer(), kControlPacketLimit);
  if (!greeting_read.ok()) co_return fail("reading the greeting: " + greeting_read.error);
  const Bytes& greeting_bytes = greeting_read.packet.payload;
  if (!greeting_bytes.empty() && greeting_bytes[0] == protocol::header::kErr) {
    auto err = protocol::Decode<protocol::ErrPacket>(greeting_bytes, 0);
    if (err.ok()) {
      result.server_error = *err;
      result.retryable = IsRetryableServerError(err->code);
      co_return fail(ServerErrorText(*err));
    }
  }
  auto greeting = protocol::Decode<protocol::HandshakeV10>(greeting_bytes);
  if (!greeting.ok()) co_return fail("bad greeting: " + greeting.error().message);
  state.server = IdentityOf(*greeting);
  state.thread_id = greeting->connection_id;
  state.scramble = ServerScramble(greeting->auth_plugin_data);
  state.key = key;
  if (!(greeting->capabilities & cap::kProtocol41)) co_return fail("server lacks PROTOCOL_41");

  const bool mariadb = !(greeting->capabilities & cap::kClientMysql);
  Capabilities wanted = (key.capabilities & key_capability::kMask) | kAlwaysRequested;
  if (key.expired_password) wanted |= key.capabilities & cap::kCanHandleExpiredPasswords;
  // Of MariaDB's extended capabilities only EXTENDED_METADATA, when the client asked for it.
  wanted &= greeting->capabilities & ~(cap::kMariadbExtendedMask & ~cap::kMariadbExtendedMetadata);
  if (!mariadb) wanted |= cap::kClientMysql;  // CLIENT_LONG_PASSWORD for MySQL.
  if (endpoint.compression()) wanted |= greeting->capabilities & cap::kCompress;
  state.capabilities = wanted;

  protocol::HandshakeResponse41 login;
  login.capabilities = wanted;
  login.max_packet_size = 1U << 30;
  login.character_set = key.collation;
  login.username = key.user;
  std::uint8_t next = static_cast<std::uint8_t>(greeting_read.packet.last_sequence_id + 1);
  if (tls) {
    if (!(greeting->capabilities & cap::kSsl)) {
      result.retryable = false;
      co_return fail(
          "[backend_tls] is on, but the server does not offer TLS (set its ssl_cert "
          "and ssl_key, or turn backend_tls off)");
    }
    login.capabilities |= cap::kSsl;
    state.capabilities = login.capabilities;
    protocol::SslRequest request{.capabilities = login.capabilities,
                                 .max_packet_size = login.max_packet_size,
                                 .character_set = login.character_set};
    const Bytes request_bytes = protocol::Encode(request);
    auto sent = co_await net::WritePacket(connection->stream_, request_bytes, next);
    if (!sent.ok()) co_return fail("sending the TLS request: " + sent.error().message);
    next = *sent;
    auto handshake = connection->stream_.HandshakeAsClient(tls, endpoint.tls_server_name(),
                                                           endpoint.tls_session_key());
    auto started = co_await std::move(handshake);
    if (!started.ok()) {
      // A certificate the proxy does not accept will not change by retrying.
      result.retryable = deadline.expired();
      co_return fail(started.error().message);
    }
  }
  state.secure_transport = tls || address.kind == config::SocketAddress::Kind::kUnix;
  BackendAuth auth(secret, key.user, state.secure_transport);
  login.auth_response = auth.FirstResponse(state.scramble.view());
  login.auth_plugin_name = auth.plugin_name();
  login.attributes = {{"_client_name", "longlink"},
                      {"_client_version", kVersion},
                      {"program_name", "longlink proxy"}};
  const Bytes login_bytes = protocol::Encode(login);
  auto written = co_await net::WritePacket(connection->stream_, login_bytes, next);
  if (!written.ok()) co_return fail("sending the login: " + written.error().message);

  auto authenticated = co_await connection->FinishAuthentication(auth, &result.server_error);
  if (!authenticated.ok()) {
    if (result.server_error) result.retryable = IsRetryableServerError(result.server_error->code);
    co_return fail(authenticated.error().message);
  }

  if (state.capabilities & cap::kCompress) {
    connection->stream_.StartCompression(net::CompressionLayer::Role::kFacingServer);
  }
  // Two statements in one round trip.
  const Bytes track = protocol::Encode(protocol::Query{TrackingStatement(key)});
  const Bytes variables = protocol::Encode(
      protocol::Query{"SELECT @@max_allowed_packet, @@wait_timeout, "
                      "@@global.session_track_state_change, @@global.session_track_schema, "
                      "@@global.session_track_transaction_info, "
                      "@@global.session_track_system_variables, @@global.max_prepared_stmt_count"});
  const Bytes setup = Pipeline({track, variables});
  if (const std::error_code error = co_await connection->WriteCommands(setup)) {
    co_return fail("sending setup: " + net::ErrorText(error));
  }
  result.retryable = false;
  auto tracking = co_await connection->ReadOk(nullptr);
  if (!tracking.ok()) co_return fail("turning on the state tracker: " + tracking.error().message);
  std::optional<protocol::ErrPacket> refused;
  auto rows = co_await connection->ReadRows(1, &refused);
  if (!rows.ok()) co_return fail("reading session variables: " + rows.error().message);
  // An account whose password has expired may only change it (ER_MUST_CHANGE_PASSWORD): the
  // session keeps the server's defaults.
  if (refused && refused->code == kMustChangePassword) state.sandboxed = true;
  if (refused && !state.sandboxed) {
    co_return fail("reading session variables: " + ServerErrorText(*refused));
  }
  const Row no_row;
  const Row* row = rows->empty() ? &no_row : &rows->front();
  auto number = [](const std::optional<std::string>& text) -> std::uint64_t {
    std::uint64_t value = 0;
    if (text) std::from_chars(text->data(), text->data() + text->size(), value);
    return value;
  };
  if (row->size() >= 2) {
    state.max_allowed_packet = number((*row)[0]);
    state.wait_timeout = static_cast<std::uint32_t>(number((*row)[1]));
  }
  if (row->size() >= 6) {
    state.global_tracking.state_change = number((*row)[2]) != 0;
    state.global_tracking.schema = number((*row)[3]) != 0;
    state.global_tracking.transaction_info = ParseTransactionInfo((*row)[4].value_or("OFF"));
    state.global_tracking.system_variables = (*row)[5].value_or("");
  }
  if (row->size() >= 7) {
    state.max_prepared_stmt_count = static_cast<std::uint32_t>(number((*row)[6]));
  }
  state.created_at = state.last_used_at = state.last_alive_at = state.reset_at = Clock::now();
  connection->EndExchange();
  result.connection = std::move(connection);
  co_return result;
}

net::Awaitable<Status> BackendConnection::FinishAuthentication(
    BackendAuth& auth, std::optional<protocol::ErrPacket>* server_error) {
  for (int round = 0; round < kMaxAuthRounds; ++round) {
    auto reply = co_await net::ReadPacket(stream_, Buffer(), kControlPacketLimit);
    if (!reply.ok()) co_return Error{"during login: " + reply.error};
    const Bytes& payload = reply.packet.payload;
    if (payload.empty()) co_return Error{"empty packet during login"};
    if (payload[0] == protocol::header::kOk) {
      auto ok = protocol::Decode<protocol::OkPacket>(payload, state_.capabilities);
      if (!ok.ok()) co_return Error{"bad OK during login: " + ok.error().message};
      state_.status_flags = ok->status_flags;
      co_return Status();
    }
    if (payload[0] == protocol::header::kErr) {
      auto err = protocol::Decode<protocol::ErrPacket>(payload, state_.capabilities);
      if (!err.ok()) co_return Error{"bad ERR during login"};
      *server_error = *err;
      co_return Error{ServerErrorText(*err)};
    }
    auto answer = auth.Answer(payload);
    if (!answer.ok()) co_return answer.error();
    if (!answer->has_value()) continue;
    const ByteView answer_bytes = protocol::AsBytes(**answer);
    auto sent = co_await net::WritePacket(
        stream_, answer_bytes, static_cast<std::uint8_t>(reply.packet.last_sequence_id + 1));
    if (!sent.ok()) co_return Error{"during login: " + sent.error().message};
  }
  co_return Error{"too many authentication rounds"};
}

net::Awaitable<Status> BackendConnection::ReadOk(std::optional<protocol::ErrPacket>* server_error) {
  auto reply = co_await net::ReadPacket(stream_, Buffer(), kControlPacketLimit);
  if (!reply.ok()) co_return Error{reply.error};
  const Bytes& payload = reply.packet.payload;
  if (!payload.empty() && payload[0] == protocol::header::kOk) {
    auto ok = protocol::Decode<protocol::OkPacket>(payload, state_.capabilities);
    if (!ok.ok()) co_return Error{"bad OK: " + ok.error().message};
    state_.status_flags = ok->status_flags;
    co_return Status();
  }
  if (!payload.empty() && payload[0] == protocol::header::kErr) {
    auto err = protocol::Decode<protocol::ErrPacket>(payload, state_.capabilities);
    if (err.ok() && server_error != nullptr) {
      *server_error = *err;
      co_return Status();
    }
    co_return Error{err.ok() ? ServerErrorText(*err) : "bad ERR packet"};
  }
  co_return Error{"unexpected reply"};
}

std::string TrackingStatement(const PoolKey& key) {
  std::string sql = BackendConnection::kTrackStateChange;
  if (key.transaction_pooling) {
    sql +=
        ", session_track_schema=ON, session_track_transaction_info="
        "IF(@@global.session_track_transaction_info='CHARACTERISTICS','CHARACTERISTICS','STATE'), "
        "session_track_system_variables='*'";
  }
  return sql;
}

std::string FreshSessionStatement(const PoolKey& key) {
  std::string sql = TrackingStatement(key);
  if (key.capabilities & protocol::capability::kIgnoreSpace) {
    sql += ", sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'IGNORE_SPACE')";
  }
  if (key.capabilities & protocol::capability::kInteractive) {
    sql += ", wait_timeout = @@global.interactive_timeout";
  }
  return sql;
}

net::Awaitable<Status> BackendConnection::Reset(std::chrono::milliseconds timeout) {
  auto reset = ResetSession(timeout, nullptr, nullptr);
  auto done = co_await std::move(reset);
  if (done.ok()) state_.last_used_at = state_.last_alive_at;
  co_return done;
}

protocol::Bytes BackendConnection::ResetRequest() const {
  // The reset turns the tracker off and forgets what the handshake's flags set; the SET that
  // restores both goes in the same write.
  const Bytes reset = protocol::EncodeCommand(protocol::Command::kResetConnection);
  const Bytes track = protocol::Encode(protocol::Query{FreshSessionStatement(state_.key)});
  return Pipeline({reset, track});
}

net::Awaitable<Status> BackendConnection::ResetAndInitDb(
    std::chrono::milliseconds timeout, std::string schema,
    std::optional<protocol::ErrPacket>* server_error) {
  auto reset = ResetSession(timeout, &schema, server_error);
  co_return co_await std::move(reset);
}

net::Awaitable<std::error_code> BackendConnection::WriteCommands(ByteView framed) {
  bool command_starts = true;
  while (!framed.empty()) {
    std::size_t length = framed.size();
    if (stream_.compressed()) {
      const auto chunk = protocol::PeekChunk(framed);
      if (chunk) length = chunk->size();
    }
    // A command's further chunks (16 MiB and more) continue its frame ids.
    if (command_starts) stream_.StartCommand();
    command_starts = length == framed.size() ||
                     length < protocol::kPacketHeaderSize + protocol::kMaxChunkPayload;
    auto [error, written] =
        co_await asio::async_write(stream_, asio::buffer(framed.data(), length), net::kNoThrow);
    if (error) co_return error;
    framed = framed.subspan(length);
  }
  co_return std::error_code();
}

net::Awaitable<Status> BackendConnection::ResetSession(
    std::chrono::milliseconds timeout, const std::string* schema,
    std::optional<protocol::ErrPacket>* server_error) {
  Exchange exchange{*this};
  net::Deadline deadline(stream_.lowest_layer(), timeout);
  Bytes all = ResetRequest();
  if (schema != nullptr) {
    const Bytes init = protocol::Frame(protocol::Encode(protocol::InitDb{*schema}), 0);
    all.insert(all.end(), init.begin(), init.end());
  }
  if (const std::error_code error = co_await WriteCommands(all)) {
    co_return Error{net::ErrorText(error)};
  }
  const std::string silent = "no answer within " + std::to_string(timeout.count()) + " ms";
  for (int i = 0; i < kResetReplies; ++i) {
    auto ok = co_await ReadOk(nullptr);
    if (!ok.ok()) co_return deadline.expired() ? Status(Error{silent}) : ok;
  }
  state_.StartedAfresh();
  if (schema != nullptr) {
    auto init_ok = co_await ReadOk(server_error);
    if (!init_ok.ok()) co_return deadline.expired() ? Status(Error{silent}) : init_ok;
    if (!server_error->has_value()) state_.schema = *schema;
  }
  state_.last_alive_at = Clock::now();
  co_return Status();
}

net::Awaitable<Status> BackendConnection::Ping(std::chrono::milliseconds timeout) {
  Exchange exchange{*this};
  net::Deadline deadline(stream_.lowest_layer(), timeout);
  const Bytes command = protocol::EncodeCommand(protocol::Command::kPing);
  stream_.StartCommand();
  auto sent = co_await net::WritePacket(stream_, command, 0);
  if (!sent.ok()) co_return Error{sent.error().message};
  auto ok = co_await ReadOk(nullptr);
  if (!ok.ok()) {
    co_return Error{deadline.expired()
                        ? "no answer within " + std::to_string(timeout.count()) + " ms"
                        : ok.error().message};
  }
  state_.last_alive_at = Clock::now();
  co_return Status();
}

net::Awaitable<Status> BackendConnection::Execute(
    std::string sql, std::optional<protocol::ErrPacket>* server_error) {
  Exchange exchange{*this};
  const Bytes command = protocol::Encode(protocol::Query{std::move(sql)});
  stream_.StartCommand();
  auto sent = co_await net::WritePacket(stream_, command, 0);
  if (!sent.ok()) co_return Error{sent.error().message};
  auto ok = co_await ReadOk(server_error);
  if (ok.ok()) state_.last_alive_at = Clock::now();
  co_return ok;
}

net::Awaitable<Status> BackendConnection::InitDb(const std::string& schema,
                                                 std::optional<protocol::ErrPacket>* server_error) {
  Exchange exchange{*this};
  const Bytes command = protocol::Encode(protocol::InitDb{schema});
  stream_.StartCommand();
  auto sent = co_await net::WritePacket(stream_, command, 0);
  if (!sent.ok()) co_return Error{sent.error().message};
  auto ok = co_await ReadOk(server_error);
  if (ok.ok() && !server_error->has_value()) state_.schema = schema;
  co_return ok;
}

net::Awaitable<Status> BackendConnection::ChangeUser(const auth::LoginSecret& secret,
                                                     std::uint8_t collation) {
  Status done;
  {
    Exchange exchange{*this};
    protocol::ChangeUser change;
    change.username = state_.key.user;
    BackendAuth auth(secret, change.username, state_.secure_transport);
    change.auth_response = auth.FirstResponse(state_.scramble.view());
    change.character_set = collation;
    change.auth_plugin_name = auth.plugin_name();
    const Bytes command = protocol::Encode(change, state_.capabilities);
    stream_.StartCommand();
    auto sent = co_await net::WritePacket(stream_, command, 0);
    if (!sent.ok()) co_return Error{sent.error().message};
    std::optional<protocol::ErrPacket> server_error;
    done = co_await FinishAuthentication(auth, &server_error);
  }
  if (!done.ok()) co_return done;
  state_.schema.clear();
  state_.StartedAfresh();
  state_.key.collation = collation;
  // The new session has the tracker off and the handshake's flags forgotten (a separate round
  // trip: an auth switch may come first).
  co_return co_await Execute(FreshSessionStatement(state_.key));
}

net::Awaitable<Result<std::vector<std::optional<std::string>>>> BackendConnection::QueryRow(
    const std::string& sql, std::optional<protocol::ErrPacket>* server_error) {
  auto rows = co_await QueryRows(sql, 1, server_error);
  if (!rows.ok()) co_return rows.error();
  if (rows->empty()) co_return std::vector<std::optional<std::string>>{};
  co_return std::move(rows->front());
}

net::Awaitable<Result<std::vector<Row>>> BackendConnection::QueryRows(
    const std::string& sql, std::size_t max_rows,
    std::optional<protocol::ErrPacket>* server_error) {
  Exchange exchange{*this};
  const Bytes command = protocol::Encode(protocol::Query{sql});
  stream_.StartCommand();
  auto sent = co_await net::WritePacket(stream_, command, 0);
  if (!sent.ok()) co_return Error{sent.error().message};
  co_return co_await ReadRows(max_rows, server_error);
}

net::Awaitable<Result<std::vector<Row>>> BackendConnection::ReadRows(
    std::size_t max_rows, std::optional<protocol::ErrPacket>* server_error) {
  protocol::ResponseTracker tracker(protocol::ResponseShape::kQuery, state_.capabilities);
  std::vector<Row> rows;
  while (!tracker.complete()) {
    auto packet = co_await net::ReadPacket(stream_, Buffer(), kControlPacketLimit);
    if (!packet.ok()) co_return Error{packet.error};
    auto kind = tracker.OnServerPacket(packet.packet.payload);
    if (!kind.ok()) co_return Error{kind.error().message};
    if (*kind != protocol::ServerPacketKind::kRow || rows.size() >= max_rows) continue;
    Row& values = rows.emplace_back();
    protocol::Reader reader(ByteView(packet.packet.payload));
    while (!reader.empty()) {
      auto value = reader.ReadNullableLenencInt();
      if (!value) co_return Error{"bad row"};
      if (value->is_null) {
        values.emplace_back(std::nullopt);
        continue;
      }
      auto text = reader.ReadString(static_cast<std::size_t>(value->value));
      if (!text) co_return Error{"bad row"};
      values.emplace_back(std::string(*text));
    }
  }
  if (tracker.ended_with_error()) {
    if (server_error == nullptr) co_return Error{ServerErrorText(*tracker.error())};
    *server_error = *tracker.error();
    co_return std::vector<Row>{};
  }
  state_.status_flags = tracker.status_flags();
  co_return rows;
}

}  // namespace longlink::pool
