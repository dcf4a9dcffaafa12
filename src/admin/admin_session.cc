#include "admin/admin_session.h"

#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/write.hpp>

#include "admin/admin_tables.h"
#include "admin/proxy_snapshot.h"
#include "auth/client_proof.h"
#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "net/packet_io.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/handshake.h"
#include "protocol/packets.h"
#include "protocol/result_set.h"
#include "proxy/client_auth_exchange.h"
#include "version.h"

namespace longlink::admin {

namespace {

namespace cap = protocol::capability;
namespace server_error = protocol::server_error;
using protocol::Bytes;
using protocol::ErrPacket;
using protocol::MakeErrPacket;

// What the console offers: enough for every client library; no TLS, no compression.
constexpr protocol::Capabilities kAdminCapabilities =
    cap::kClientMysql | cap::kFoundRows | cap::kLongFlag | cap::kConnectWithDb | cap::kProtocol41 |
    cap::kInteractive | cap::kTransactions | cap::kSecureConnection | cap::kMultiResults |
    cap::kPluginAuth | cap::kConnectAttrs | cap::kPluginAuthLenencClientData | cap::kDeprecateEof;
constexpr std::uint8_t kUtf8mb4GeneralCi = 45;
constexpr std::uint8_t kBinary = 63;
constexpr std::uint16_t kStatus = protocol::status::kAutocommit;

// The OS name of `uid`, if it has one.
std::optional<std::string> UserName(uid_t uid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return std::string(found->pw_name);
}

protocol::ColumnDefinition DefinitionOf(const ResultColumn& column) {
  protocol::ColumnDefinition definition{.name = column.name, .org_name = column.name};
  switch (column.kind) {
    case ColumnKind::kInteger:
      definition.character_set = kBinary;
      definition.column_length = 20;
      definition.type = protocol::column_type::kLongLong;
      definition.flags = protocol::column_flag::kBinary;
      break;
    case ColumnKind::kDecimal:
      definition.character_set = kBinary;
      definition.column_length = 22;
      definition.type = 0x05;  // DOUBLE.
      definition.flags = protocol::column_flag::kBinary;
      definition.decimals = 3;
      break;
    case ColumnKind::kText:
      definition.character_set = kUtf8mb4GeneralCi;
      definition.column_length = 1024;
      definition.type = protocol::column_type::kVarString;
      break;
  }
  return definition;
}

}  // namespace

AdminSession::AdminSession(AdminConsole& console, net::Socket socket, net::BufferPool& buffers,
                           std::uint64_t id)
    : console_(console), context_(console.context()), client_(std::move(socket), buffers), id_(id) {
  unix_socket_ = client_.stream().unix_socket();
  std::error_code error;
  const auto endpoint = client_.socket().remote_endpoint(error);
  peer_ = unix_socket_ || error ? "localhost" : net::EndpointText(endpoint);
}

net::Awaitable<void> AdminSession::Run(std::unique_ptr<AdminSession> /*self*/) {
  bool serving = co_await LogIn();
  if (serving) {
    Log(LogLevel::kInfo, id_, "admin console: {} logged in from {}", LogQuoted(user_), peer_);
  }
  while (serving) serving = co_await ServeCommand();
  client_.Close();
}

bool AdminSession::PeerIsOsUser(const std::string& user) {
  if (!unix_socket_ || !context_.config().admin.unix_socket_auth) return false;
  struct ucred credentials {};
  socklen_t length = sizeof credentials;
  if (::getsockopt(client_.socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials,
                   &length) != 0) {
    return false;
  }
  if (credentials.uid != 0 && credentials.uid != ::geteuid()) return false;
  const std::optional<std::string> name = UserName(credentials.uid);
  return name && *name == user;
}

net::Awaitable<bool> AdminSession::LogIn() {
  net::Deadline deadline(client_.socket(), context_.config().proxy.handshake_timeout);
  const auth::Scramble scramble = auth::GenerateScramble();
  protocol::HandshakeV10 greeting;
  greeting.server_version = std::string(kVersion) + "-longlink-admin";  // As Greeting().
  greeting.connection_id = static_cast<std::uint32_t>(id_);
  greeting.auth_plugin_data.assign(scramble.begin(), scramble.end());
  greeting.capabilities = kAdminCapabilities;
  greeting.character_set = kUtf8mb4GeneralCi;
  greeting.status_flags = kStatus;
  greeting.auth_plugin_name = std::string(protocol::auth_plugin::kNativePassword);
  const Bytes greeting_bytes = protocol::Encode(greeting);
  if (!co_await client_.Send(greeting_bytes, 0)) co_return false;

  auto read = co_await client_.ReadPacket(proxy::ClientAuthExchange::kPacketLimit);
  if (!read.ok()) co_return false;
  std::uint8_t sequence = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
  auto response = protocol::Decode<protocol::HandshakeResponse41>(read.packet.payload);
  if (protocol::IsSslRequest(read.packet.payload) || !response.ok() ||
      !(response->capabilities & cap::kProtocol41) || read.packet.sequence_id != 1) {
    const ErrPacket error = MakeErrPacket(server_error::kHandshakeError, "Bad handshake");
    co_await client_.SendError(error, sequence);
    co_return false;
  }
  client_.set_capabilities(response->capabilities & kAdminCapabilities);
  const std::string user = response->username;
  if (PeerIsOsUser(user)) {
    user_ = user;
    schema_ = response->database;
    co_return co_await client_.SendOk(kStatus, sequence);
  }

  // A password account, or the motions of one for a name that is none (the same exchange and
  // answer as a wrong password).
  const AdminAccount* account = console_.FindAccount(user);
  const std::vector<auth::AccountCredential>& credentials =
      account != nullptr ? account->credentials : context_.decoy_credentials();
  const std::optional<std::string> known =
      account != nullptr ? account->password : std::optional<std::string>();
  const std::string plugin =
      (client_.capabilities() & cap::kPluginAuth) && !response->auth_plugin_name.empty()
          ? response->auth_plugin_name
          : std::string(protocol::auth_plugin::kNativePassword);
  const proxy::ExchangeKind kind = known && plugin == protocol::auth_plugin::kCachingSha2Password
                                       ? proxy::ExchangeKind::kCachingSha2Fast
                                       : proxy::ExchangeKind::kNative;
  proxy::ClientAuthExchange exchange(context_, client_, &sequence);
  auto run = exchange.Run(kind, plugin, response->auth_response, scramble, known);
  const std::optional<auth::ClientProof> proof = co_await std::move(run);
  if (!proof) co_return false;
  const auth::ProofCheck check = auth::CheckProof(credentials, *proof, known);
  if (account == nullptr || !check.secret) {
    static LogRateLimit denials;
    if (auto note = denials.Admit(); note.write) {
      Log(LogLevel::kInfo, id_, "admin console: access denied for user {} from {}{}{}",
          LogQuoted(user), peer_, account == nullptr ? " (not an admin user)" : "", note.suffix);
    }
    const bool used_password =
        proof->kind == auth::ClientProof::Kind::kInvalid || !proof->data.empty();
    const ErrPacket error = protocol::AccessDeniedError(user, "localhost", used_password);
    co_await client_.SendError(error, sequence);
    co_return false;
  }
  user_ = user;
  schema_ = response->database;
  co_return co_await client_.SendOk(kStatus, sequence);
}

net::Awaitable<bool> AdminSession::ServeCommand() {
  client_.GiveBack();
  auto read = co_await client_.ReadPacket(kMaxQuery);
  if (!read.ok()) {
    if (read.failure == net::ReadFailure::kTooLarge) {
      const ErrPacket error = MakeErrPacket(server_error::kNetPacketTooLarge,
                                            "Got a packet bigger than 'max_allowed_packet' bytes");
      co_await client_.SendError(error, 1);
    }
    co_return false;
  }
  const Bytes& payload = read.packet.payload;
  if (payload.empty()) {
    const ErrPacket error = MakeErrPacket(server_error::kUnknownComError, "Unknown command");
    co_return co_await client_.SendError(error, 1);
  }
  const auto command = static_cast<protocol::Command>(payload[0]);
  const std::string_view rest(reinterpret_cast<const char*>(payload.data()) + 1,
                              payload.size() - 1);
  switch (command) {
    case protocol::Command::kQuit:
      co_return false;
    case protocol::Command::kPing:
      co_return co_await client_.SendOk(kStatus, 1);
    case protocol::Command::kStatistics: {
      // As the server's: one string, no header byte (mariadb's `status` shows it).
      const proxy::ProxyContext& context = context_;
      const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::steady_clock::now() - context.started_steady())
                              .count();
      const std::string text = "Uptime: " + std::to_string(uptime) +
                               "  Threads: " + std::to_string(context.clients_connected()) +
                               "  Questions: 0  Slow queries: 0  Opens: 0  Open tables: 0  "
                               "Queries per second avg: 0.000";
      const Bytes reply(text.begin(), text.end());
      const bool sent = co_await client_.Send(reply, 1);
      co_return sent;
    }
    case protocol::Command::kInitDb:
      schema_ = std::string(rest);
      co_return co_await client_.SendOk(kStatus, 1);
    case protocol::Command::kQuery: {
      const std::string text(rest);
      const AdminCommand parsed = ParseAdminCommand(text);
      auto answer = Answer(parsed, text);
      const bool served = co_await std::move(answer);
      co_return served;
    }
    default: {
      const ErrPacket error = MakeErrPacket(server_error::kUnknownComError, "Unknown command");
      co_return co_await client_.SendError(error, 1);
    }
  }
}

namespace {

std::string Greeting() { return std::string(kVersion) + "-longlink-admin"; }

ResultTable OneValue(std::string column, std::string value) {
  ResultTable table;
  table.columns = {{std::move(column), ColumnKind::kText}};
  table.rows = {{std::move(value)}};
  return table;
}

}  // namespace

ResultTable AdminSession::SelectTable(const AdminCommand& command) const {
  ResultTable table;
  std::vector<std::string> row;
  for (std::size_t i = 0; i < command.select_items.size(); ++i) {
    ColumnKind kind = ColumnKind::kText;
    std::string value;
    switch (command.select_items[i]) {
      case SelectItem::kVersionComment:
        value = "longlink admin console";
        break;
      case SelectItem::kVersion:
        value = Greeting();
        break;
      case SelectItem::kDatabase:
        value = schema_;
        break;
      case SelectItem::kUser:
        value = user_ + "@" + peer_;
        break;
      case SelectItem::kConnectionId:
        kind = ColumnKind::kInteger;
        value = std::to_string(id_);
        break;
      case SelectItem::kCharacterSet:
        value = "utf8mb4";
        break;
      case SelectItem::kCollation:
        value = "utf8mb4_general_ci";
        break;
      case SelectItem::kMaxAllowedPacket:
        kind = ColumnKind::kInteger;
        value = std::to_string(kMaxQuery);
        break;
    }
    table.columns.push_back({command.select_names[i], kind});
    row.push_back(std::move(value));
  }
  table.rows.push_back(std::move(row));
  return table;
}

net::Awaitable<bool> AdminSession::Answer(const AdminCommand& command, const std::string& text) {
  // Every answer is built first and sent by one co_await on locals (GCC 12 mishandles
  // temporaries inside co_await expressions).
  const auto now = std::chrono::steady_clock::now();
  const config::ProxyConfig& config = context_.config();
  std::optional<ResultTable> table;
  switch (command.verb) {
    case AdminVerb::kShowPools:
      table = PoolsTable(TakeSnapshot(context_), config);
      break;
    case AdminVerb::kShowClients: {
      auto collect = proxy::WorkerSessions::Collect(context_.workers());
      std::vector<proxy::ClientInfo> clients = co_await std::move(collect);
      table = ClientsTable(std::move(clients), now, command.limit);
      break;
    }
    case AdminVerb::kShowServers:
      table = ServersTable(context_.pools().Connections(), config.backend_tls.enabled, now,
                           command.limit);
      break;
    case AdminVerb::kShowBackends:
      table = BackendsTable(TakeSnapshot(context_), config);
      break;
    case AdminVerb::kShowStats:
      table = StatsTable(TakeSnapshot(context_), console_.rate_base(), now);
      break;
    case AdminVerb::kShowTotals:
      table = TotalsTable(TakeSnapshot(context_));
      break;
    case AdminVerb::kShowConfig:
      table = ConfigTable(config);
      break;
    case AdminVerb::kShowVersion:
      table = OneValue("version", std::string("longlink ") + kVersion);
      break;
    case AdminVerb::kShowHelp:
      table = HelpTable();
      break;
    case AdminVerb::kShowQueries:
      table = QueriesTable(context_.query_digests().Snapshot(), command.limit);
      break;
    case AdminVerb::kResetQueries: {
      context_.query_digests().Clear();
      Log(LogLevel::kInfo, id_, "admin console: {} emptied the statement digests",
          LogQuoted(user_));
      const bool sent = co_await client_.SendOk(kStatus, 1);
      co_return sent;
    }
    case AdminVerb::kSet: {  // SET NAMES, SET autocommit, ...: nothing to change here.
      const bool sent = co_await client_.SendOk(kStatus, 1);
      co_return sent;
    }
    case AdminVerb::kSelect:
      table = SelectTable(command);
      break;
    case AdminVerb::kUnknown:
      break;
  }
  if (table) {
    auto send = SendTable(*table);
    co_return co_await std::move(send);
  }
  static LogRateLimit unknown;
  if (auto note = unknown.Admit(); note.write) {
    Log(LogLevel::kDebug, id_, "admin console: unknown command {}{}", LogQuoted(text), note.suffix);
  }
  const ErrPacket error =
      MakeErrPacket(server_error::kParseError, "longlink admin console: unknown command " +
                                                   LogQuoted(text, 64) + "; try SHOW HELP");
  const bool sent = co_await client_.SendError(error, 1);
  co_return sent;
}

net::Awaitable<bool> AdminSession::SendTable(const ResultTable& table) {
  const protocol::Capabilities caps = client_.capabilities();
  const bool deprecate_eof = (caps & cap::kDeprecateEof) != 0;
  Bytes reply;
  std::uint8_t sequence = 1;
  auto append = [&](const Bytes& payload) {
    sequence = protocol::AppendFramed(payload, sequence, &reply);
  };
  append(protocol::Encode(protocol::ColumnCount{.count = table.columns.size()}, caps));
  for (const ResultColumn& column : table.columns) {
    append(protocol::Encode(DefinitionOf(column), caps));
  }
  if (!deprecate_eof) append(protocol::Encode(protocol::EofPacket{.status_flags = kStatus}, caps));
  protocol::TextRow row;
  for (const auto& values : table.rows) {
    row.values.clear();
    for (std::size_t i = 0; i < values.size(); ++i) {
      // A number that does not apply (an idle time of a busy client) is NULL.
      const bool number = i < table.columns.size() && table.columns[i].kind != ColumnKind::kText;
      if (number && values[i].empty()) {
        row.values.emplace_back(std::nullopt);
      } else {
        row.values.emplace_back(values[i]);
      }
    }
    append(protocol::Encode(row));
  }
  if (deprecate_eof) {
    protocol::OkPacket end{.header = protocol::OkPacket::Header::kEof, .status_flags = kStatus};
    append(protocol::Encode(end, caps));
  } else {
    append(protocol::Encode(protocol::EofPacket{.status_flags = kStatus}, caps));
  }
  auto [error, written] =
      co_await asio::async_write(client_.stream(), asio::buffer(reply), net::kNoThrow);
  co_return !error;
}

}  // namespace longlink::admin
