#include "scripted_backend.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "net/io_buffer.h"
#include "net/packet_io.h"
#include "protocol/command.h"
#include "protocol/frame.h"
#include "protocol/handshake.h"
#include "protocol/packets.h"
#include "protocol/session_track.h"

namespace longlink::fuzz {

namespace {

namespace cap = protocol::capability;
namespace status = protocol::status;
using protocol::Bytes;
using protocol::ByteView;
using protocol::Capabilities;
using protocol::Command;

// What mariadbd 10.11 (Debian 12, no TLS) announces in its greeting (read from a real one).
constexpr Capabilities kServerCapabilities = 0x0000001D81FFF7FEULL;
constexpr std::string_view kServerVersion = "5.5.5-10.11.19-MariaDB-0+deb12u1";
constexpr std::uint8_t kCollation = 45;  // utf8mb4_general_ci, as Debian configures it.
constexpr std::size_t kMaxPacket = 1 << 24;
constexpr std::uint8_t kVarString = 0xfd;

// One connection's server-side session.
class Connection {
 public:
  Connection(net::Socket socket, std::uint32_t thread_id)
      : socket_(std::move(socket)), thread_id_(thread_id), buffer_(16 * 1024) {}

  net::Awaitable<void> Serve() {
    if (!co_await LogIn()) co_return;
    for (;;) {
      auto read = co_await net::ReadPacket(socket_, buffer_, kMaxPacket);
      if (!read.ok()) co_return;
      sequence_ = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
      const Bytes& payload = read.packet.payload;
      if (payload.empty()) co_return;  // mariadbd closes on an empty command packet.
      if (!co_await Answer(static_cast<Command>(payload[0]), payload)) co_return;
      if (!co_await Flush()) co_return;
    }
  }

 private:
  net::Awaitable<bool> LogIn() {
    protocol::HandshakeV10 greeting;
    greeting.server_version = std::string(kServerVersion);
    greeting.connection_id = thread_id_;
    greeting.auth_plugin_data = "abcdefghijklmnopqrst";
    greeting.capabilities = kServerCapabilities;
    greeting.character_set = kCollation;
    greeting.status_flags = status_;
    greeting.auth_plugin_name = "mysql_native_password";
    Send(protocol::Encode(greeting));
    sequence_ = 0;
    if (!co_await Flush()) co_return false;
    auto read = co_await net::ReadPacket(socket_, buffer_, kMaxPacket);
    if (!read.ok()) co_return false;
    auto login = protocol::Decode<protocol::HandshakeResponse41>(read.packet.payload);
    sequence_ = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
    if (!login.ok()) {
      SendErr(1043, "08S01", "Bad handshake");
      co_await Flush();
      co_return false;
    }
    caps_ = login->capabilities & kServerCapabilities;
    schema_ = login->database;
    SendOk();
    co_return co_await Flush();
  }

  net::Awaitable<bool> Answer(Command command, const Bytes& payload) {
    const std::string_view rest(reinterpret_cast<const char*>(payload.data()) + 1,
                                payload.size() - 1);
    Log(LogLevel::kDebug, 0, "scripted backend {}: command 0x{:02x} {:?}", thread_id_, payload[0],
        rest.substr(0, 60));
    switch (command) {
      case Command::kQuit:
        co_return false;
      case Command::kQuery:
        co_return co_await AnswerQuery(rest);
      case Command::kInitDb:
        schema_ = std::string(rest);
        SendOk(0, {protocol::SchemaChange{schema_}});
        co_return true;
      case Command::kPing:
      case Command::kStmtReset:
        SendOk();
        co_return true;
      case Command::kResetConnection:
      case Command::kChangeUser:
        status_ = status::kAutocommit;
        statements_.clear();
        track_ = false;
        SendOk();
        co_return true;
      case Command::kSetOption: {
        if (rest.size() >= 2 && rest[0] == 0) {
          caps_ |= cap::kMultiStatements;
        } else if (rest.size() >= 2 && rest[0] == 1) {
          caps_ &= ~cap::kMultiStatements;
        }
        SendEof();
        co_return true;
      }
      case Command::kStatistics:
        Send(
            Text("Uptime: 60  Threads: 2  Questions: 10  Slow queries: 0  Opens: 17  "
                 "Open tables: 10  Queries per second avg: 0.166"));
        co_return true;
      case Command::kFieldList:
        Send(ColumnDefinition("id", 3));
        Send(ColumnDefinition("v", kVarString));
        SendEndOfRows();
        co_return true;
      case Command::kStmtPrepare:
        Prepare(rest);
        co_return true;
      case Command::kStmtExecute:
        Execute(payload);
        co_return true;
      case Command::kStmtClose: {
        if (auto id = protocol::StatementIdOf(payload)) statements_.erase(*id);
        co_return true;
      }
      case Command::kStmtSendLongData:
        co_return true;
      default:
        SendErr(1047, "08S01", "Unknown command");
        co_return true;
    }
  }

  net::Awaitable<bool> AnswerQuery(std::string_view sql) {
    std::vector<std::string_view> statements;
    if (caps_ & cap::kMultiStatements) {
      while (!sql.empty()) {
        const auto end = sql.find(';');
        statements.push_back(sql.substr(0, end));
        if (end == std::string_view::npos) break;
        sql.remove_prefix(end + 1);
      }
      while (statements.size() > 1 && Trim(statements.back()).empty()) statements.pop_back();
    } else {
      statements.push_back(sql);
    }
    if (statements.empty()) statements.push_back(sql);
    for (std::size_t i = 0; i < statements.size(); ++i) {
      const bool last = i + 1 == statements.size();
      more_ = last ? 0 : status::kMoreResultsExist;
      const bool ok = co_await AnswerStatement(Trim(statements[i]));
      more_ = 0;
      if (!ok) co_return false;
      if (last_was_error_) break;  // mariadbd stops a multi-statement at its first error.
    }
    co_return true;
  }

  net::Awaitable<bool> AnswerStatement(std::string_view sql) {
    last_was_error_ = false;
    const std::string word = FirstWord(sql);
    if (sql.empty()) {
      SendErr(1065, "42000", "Query was empty");
    } else if (sql.find("@@max_allowed_packet") != std::string_view::npos) {
      SendTextResult({"@@max_allowed_packet", "@@wait_timeout"}, {{"16777216", "28800"}});
    } else if (word == "SELECT" || word == "SHOW" || word == "WITH" || word == "DESC" ||
               word == "DESCRIBE" || word == "EXPLAIN" || word == "VALUES") {
      // Rows as many as the statement has commas plus one (up to 3): the fuzzer steers.
      const auto commas = static_cast<std::size_t>(std::count(sql.begin(), sql.end(), ','));
      std::vector<std::vector<std::string>> rows(std::min<std::size_t>(commas + 1, 3),
                                                 std::vector<std::string>{std::string(sql)});
      SendTextResult({"c"}, rows);
    } else if (word == "CALL") {
      // A procedure's result set, then the OK of the CALL itself.
      const std::uint16_t saved = more_;
      more_ = status::kMoreResultsExist;
      SendTextResult({"first"}, {{"1"}});
      more_ = saved;
      SendOk();
    } else if (word == "SET") {
      // session_track_state_change=1 and MariaDB's default session_track_system_variables
      // (autocommit among them).
      std::vector<protocol::SessionChange> changes{protocol::StateChange{}};
      const std::string upper = Upper(sql);
      if (upper.find("SESSION_TRACK_STATE_CHANGE") != std::string::npos) track_ = true;
      if (upper.find("AUTOCOMMIT") != std::string::npos) {
        const bool on = upper.find("=1") != std::string::npos ||
                        upper.find("= 1") != std::string::npos ||
                        upper.find("ON") != std::string::npos;
        status_ = on ? static_cast<std::uint16_t>(status_ | status::kAutocommit)
                     : static_cast<std::uint16_t>(status_ & ~status::kAutocommit);
        changes.insert(changes.begin(),
                       protocol::SystemVariableChange{"autocommit", on ? "ON" : "OFF"});
      }
      SendOk(0, changes);
    } else if (word == "USE") {
      schema_ = std::string(Trim(sql.substr(3)));
      SendOk(0, {protocol::SchemaChange{schema_}});
    } else if (word == "BEGIN" || word == "START") {
      status_ |= status::kInTrans;
      SendOk(0, {protocol::TransactionStateChange{"T_______"}});
    } else if (word == "COMMIT" || word == "ROLLBACK") {
      status_ &= static_cast<std::uint16_t>(~status::kInTrans);
      SendOk(0, {protocol::TransactionStateChange{"________"}});
    } else if (word == "LOAD") {
      if (!(caps_ & cap::kLocalFiles)) {
        SendErr(1148, "42000", "The used command is not allowed with this MariaDB version");
        co_return true;
      }
      Bytes request{0xfb};
      request.insert(request.end(), sql.begin(), sql.end());
      Send(std::move(request));
      if (!co_await Flush()) co_return false;
      std::uint64_t rows = 0;
      for (;;) {  // The client's file, then an empty packet.
        auto read = co_await net::ReadPacket(socket_, buffer_, kMaxPacket);
        if (!read.ok()) co_return false;
        if (read.packet.sequence_id != sequence_) {
          // mariadbd's network layer checks every packet's number; the statement fails and
          // the connection is closed.
          SendErr(1156, "08S01", "Got packets out of order");
          co_await Flush();
          co_return false;
        }
        sequence_ = static_cast<std::uint8_t>(read.packet.last_sequence_id + 1);
        if (read.packet.payload.empty()) break;
        rows += static_cast<std::uint64_t>(
            std::count(read.packet.payload.begin(), read.packet.payload.end(), '\n'));
      }
      SendOk(rows);
    } else if (word == "INSERT" || word == "UPDATE" || word == "DELETE" || word == "REPLACE" ||
               word == "CREATE" || word == "DROP" || word == "ALTER" || word == "TRUNCATE" ||
               word == "DO" || word == "KILL" || word == "FLUSH" || word == "PREPARE" ||
               word == "EXECUTE" || word == "DEALLOCATE" || word == "LOCK" || word == "UNLOCK") {
      const bool stateful = word == "PREPARE" || word == "LOCK" ||
                            (word == "CREATE" && sql.find("TEMPORARY") != std::string_view::npos);
      if (stateful) {
        SendOk(0, {protocol::StateChange{}});
      } else {
        SendOk(word == "DO" ? 0 : 1);
      }
    } else {
      SendErr(1064, "42000",
              "You have an error in your SQL syntax; check the manual that corresponds to your "
              "MariaDB server version for the right syntax to use near '" +
                  std::string(sql.substr(0, 80)) + "' at line 1");
    }
    co_return true;
  }

  void Prepare(std::string_view sql) {
    const std::string word = FirstWord(Trim(sql));
    if (word.empty() || word == "LOAD") {
      SendErr(1295, "HY000",
              "This command is not supported in the prepared statement protocol yet");
      return;
    }
    const auto parameters = static_cast<std::uint16_t>(
        std::min<std::ptrdiff_t>(std::count(sql.begin(), sql.end(), '?'), 8));
    const std::uint16_t columns = word == "SELECT" ? 1 : 0;
    const std::uint32_t id = ++next_statement_;
    statements_.insert(id);
    protocol::StmtPrepareOk ok;
    ok.statement_id = id;
    ok.column_count = columns;
    ok.parameter_count = parameters;
    Send(protocol::Encode(ok, caps_));
    for (std::uint16_t i = 0; i < parameters; ++i) Send(ColumnDefinition("?", kVarString));
    if (parameters > 0 && !(caps_ & cap::kDeprecateEof)) SendEof();
    for (std::uint16_t i = 0; i < columns; ++i) Send(ColumnDefinition("c", kVarString));
    if (columns > 0 && !(caps_ & cap::kDeprecateEof)) SendEof();
    binary_columns_[id % binary_columns_.size()] = columns;
  }

  void Execute(const Bytes& payload) {
    auto id = protocol::StatementIdOf(payload);
    if (!id || !statements_.contains(*id)) {
      SendErr(1243, "HY000", "Unknown prepared statement handler given to mysqld_stmt_execute");
      return;
    }
    if (binary_columns_[*id % binary_columns_.size()] == 0) {
      SendOk(1);
      return;
    }
    Bytes count;
    protocol::Writer(&count).WriteLenencInt(1);
    Send(std::move(count));
    Send(ColumnDefinition("c", kVarString));
    if (!(caps_ & cap::kDeprecateEof)) SendEof();
    Bytes row{0x00, 0x00};  // Header, NULL bitmap (one column, offset 2).
    protocol::Writer(&row).WriteLenencString("value");
    Send(std::move(row));
    SendEndOfRows();
  }

  void SendTextResult(const std::vector<std::string>& names,
                      const std::vector<std::vector<std::string>>& rows) {
    Bytes count;
    protocol::Writer(&count).WriteLenencInt(names.size());
    Send(std::move(count));
    for (const auto& name : names) Send(ColumnDefinition(name, kVarString));
    if (!(caps_ & cap::kDeprecateEof)) SendEof();
    for (const auto& values : rows) {
      Bytes row;
      protocol::Writer writer(&row);
      for (const auto& value : values) writer.WriteLenencString(value.substr(0, 1000));
      Send(std::move(row));
    }
    SendEndOfRows();
  }

  Bytes ColumnDefinition(std::string_view name, std::uint8_t type) const {
    Bytes out;
    protocol::Writer writer(&out);
    writer.WriteLenencString("def");
    writer.WriteLenencString(schema_);
    writer.WriteLenencString("t");
    writer.WriteLenencString("t");
    writer.WriteLenencString(name);
    writer.WriteLenencString(name);
    if (caps_ & cap::kMariadbExtendedMetadata) writer.WriteLenencString("");
    writer.WriteLenencInt(0x0c);
    writer.WriteU16(kCollation);
    writer.WriteU32(1024);
    writer.WriteU8(type);
    writer.WriteU16(0);
    writer.WriteU8(type == kVarString ? 0x27 : 0);
    writer.WriteU16(0);
    return out;
  }

  static Bytes Text(std::string_view text) { return Bytes(text.begin(), text.end()); }

  void SendEndOfRows() {
    if (caps_ & cap::kDeprecateEof) {
      protocol::OkPacket ok;
      ok.header = protocol::OkPacket::Header::kEof;
      ok.status_flags = status_ | more_;
      Send(protocol::Encode(ok, caps_));
    } else {
      SendEof();
    }
  }

  void SendEof() {
    protocol::EofPacket eof;
    eof.status_flags = status_ | more_;
    Send(protocol::Encode(eof, caps_));
  }

  void SendOk(std::uint64_t affected_rows = 0,
              const std::vector<protocol::SessionChange>& changes = {}) {
    protocol::OkPacket ok;
    ok.affected_rows = affected_rows;
    ok.status_flags = status_ | more_;
    if (track_ && (caps_ & cap::kSessionTrack) && !changes.empty()) {
      ok.status_flags |= status::kSessionStateChanged;
      ok.session_state = protocol::EncodeSessionState(changes);
    }
    Send(protocol::Encode(ok, caps_));
  }

  void SendErr(std::uint16_t code, std::string state, std::string message) {
    last_was_error_ = true;
    Send(protocol::Encode(protocol::ErrPacket{code, std::move(state), std::move(message)},
                          caps_ | cap::kProtocol41));
  }

  void Send(Bytes payload) { sequence_ = protocol::AppendFramed(payload, sequence_, &pending_); }

  net::Awaitable<bool> Flush() {
    if (pending_.empty()) co_return true;
    auto [error, written] =
        co_await asio::async_write(socket_, asio::buffer(pending_), net::kNoThrow);
    pending_.clear();
    co_return !error;
  }

  static std::string_view Trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
      text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    return text;
  }

  static std::string Upper(std::string_view text) {
    std::string upper(text);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper;
  }

  static std::string FirstWord(std::string_view sql) {
    std::string word;
    for (char c : sql) {
      if (!std::isalpha(static_cast<unsigned char>(c))) break;
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return word;
  }

  net::Socket socket_;
  const std::uint32_t thread_id_;
  net::IoBuffer buffer_;
  Bytes pending_;
  std::uint8_t sequence_ = 0;
  Capabilities caps_ = 0;
  std::uint16_t status_ = status::kAutocommit;
  std::uint16_t more_ = 0;
  bool last_was_error_ = false;
  // SET SESSION session_track_state_change=1 turns tracking on; a reset turns it off. The
  // proxy sends it after every login and reset, so tracking is on whenever a client speaks.
  bool track_ = true;
  std::string schema_;
  std::set<std::uint32_t> statements_;
  std::uint32_t next_statement_ = 0;
  std::array<std::uint16_t, 16> binary_columns_{};
};

}  // namespace

ScriptedBackend::ScriptedBackend(asio::io_context& io, std::string path)
    : io_(io), path_(std::move(path)), acceptor_(io) {
  ::unlink(path_.c_str());
  asio::local::stream_protocol::endpoint endpoint(path_);
  acceptor_.open(asio::generic::stream_protocol(AF_UNIX, 0));
  acceptor_.bind(asio::generic::stream_protocol::endpoint(endpoint.data(), endpoint.size()));
  acceptor_.listen();
}

ScriptedBackend::~ScriptedBackend() {
  std::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
}

void ScriptedBackend::Start() {
  asio::co_spawn(io_, AcceptLoop(), [](std::exception_ptr) {});
}

net::Awaitable<void> ScriptedBackend::AcceptLoop() {
  for (;;) {
    auto [error, socket] = co_await acceptor_.async_accept(net::kNoThrow);
    if (error) co_return;
    auto connection = std::make_shared<Connection>(std::move(socket), ++connections_);
    asio::co_spawn(
        io_, [connection]() -> net::Awaitable<void> { co_await connection->Serve(); },
        [](std::exception_ptr) {});
  }
}

}  // namespace longlink::fuzz
