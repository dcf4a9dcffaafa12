#include "proxy/session_state.h"

#include <gtest/gtest.h>

#include <utility>

#include "protocol/session_track.h"
#include "proxy/session_assignment.h"
#include "proxy/statement_scan.h"

namespace longlink::proxy {
namespace {

struct ScanRow {
  const char* text;
  const char* first_keyword;
  bool keeps_state;
  bool reads_previous;
  bool replayable_set;
  bool multiple;
};

TEST(ScanStatementTest, Table) {
  const ScanRow rows[] = {
      {"SELECT 1", "SELECT", false, false, false, false},
      {"  select * from t where email = 'a@b.example'", "SELECT", false, false, false, false},
      {"SELECT @x", "SELECT", false, false, false, false},  // Read: what an assignment left.
      {"SELECT @x:=1", "SELECT", true, false, false, false},
      {"SELECT @`x y` := 1", "SELECT", true, false, false, false},
      {"SELECT @caf\xc3\xa9 := 1", "SELECT", true, false, false, false},  // @café: UTF-8.
      {"SELECT @na\xc3\xafve:=1", "SELECT", true, false, false, false},
      {"SELECT @caf\xc3\xa9", "SELECT", false, false, false, false},
      {"SELECT 1; SET @x = 2", "SELECT", true, false, false, true},
      {"LOAD DATA INFILE 'f' INTO TABLE t (@a) SET v = @a", "LOAD", true, false, false, false},
      {"SELECT @x := 1", "SELECT", true, false, false, false},
      {"SELECT 1 INTO @y", "SELECT", true, false, false, false},
      {"SELECT @@autocommit, @@session.time_zone", "SELECT", false, false, false, false},
      {"SELECT @@warning_count", "SELECT", false, true, false, false},
      {"SELECT FOUND_ROWS()", "SELECT", false, true, false, false},
      {"SHOW WARNINGS", "SHOW", false, true, false, false},
      {"SELECT ROW_COUNT()", "SELECT", false, true, false, false},
      {"SELECT GET_LOCK('l', 0)", "SELECT", true, false, false, false},
      {"select get_lock('l', 0)", "SELECT", true, false, false, false},
      {"LOCK TABLES t WRITE", "LOCK", true, false, false, false},
      {"CALL p()", "CALL", true, false, false, false},
      {"CREATE TEMPORARY TABLE tt (a INT)", "CREATE", true, false, false, false},
      {"PREPARE s FROM 'SELECT 1'", "PREPARE", true, false, false, false},
      {"SELECT LAST_INSERT_ID()", "SELECT", false, false, false, false},
      {"UPDATE t SET id = LAST_INSERT_ID(id + 1)", "UPDATE", true, false, false, false},
      {"SELECT NEXT VALUE FOR s", "SELECT", true, false, false, false},
      {"SELECT 'GET_LOCK(' AS `LOCK`, \"@x\" -- GET_LOCK\n", "SELECT", false, false, false, false},
      {"SELECT 1 /* @x LOCK */", "SELECT", false, false, false, false},
      {"SELECT 1 /*! , @x := 2 */", "SELECT", true, false, false, false},
      {"SELECT 1 /*M!100000 , GET_LOCK('a',1) */", "SELECT", true, false, false, false},
      {"SELECT 'it''s', 'a\\'b @x'", "SELECT", false, false, false, false},
      {"# comment\nSELECT 1", "SELECT", false, false, false, false},
      {"SELECT 1;", "SELECT", false, false, false, false},
      {"SELECT 1; -- done", "SELECT", false, false, false, false},
      {"SELECT 1; SELECT 2", "SELECT", false, false, false, true},
      {"SET autocommit=0", "SET", false, false, true, false},
      {"SET NAMES utf8mb4 COLLATE utf8mb4_bin", "SET", false, false, true, false},
      {"set @@session.time_zone = '+01:00'", "SET", false, false, true, false},
      {"SET sql_mode = 'STRICT_ALL_TABLES'", "SET", false, false, true, false},
      {"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET", false, false, true, false},
      {"SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET", true, false, false, false},
      {"SET @x = 1", "SET", true, false, false, false},
      {"SET autocommit=0, @x=1", "SET", true, false, false, false},
      {"SET GLOBAL max_connections = 10", "SET", false, false, false, false},
      {"SET sql_mode = (SELECT 'ANSI')", "SET", false, false, false, false},
      {"SET sql_mode = CONCAT(@@sql_mode, ',ANSI')", "SET", false, false, false, false},
      {"SET autocommit=0; SET time_zone='+00:00'", "SET", false, false, false, true},
      {"USE other", "USE", false, false, false, false},
      {"", "", false, false, false, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    const StatementScan scan = ScanStatement(row.text);
    EXPECT_EQ(scan.first_keyword, row.first_keyword);
    EXPECT_EQ(scan.keeps_state != PinReason::kNone, row.keeps_state);
    EXPECT_EQ(scan.reads_previous, row.reads_previous);
    EXPECT_EQ(scan.replayable_set, row.replayable_set);
    EXPECT_EQ(scan.multiple, row.multiple);
  }
}

TEST(ScanStatementTest, FindsEveryStatementThatStartsWithKill) {
  const std::pair<const char*, bool> rows[] = {
      {"KILL 5", true},
      {"  kill query 5;", true},
      {"/* note */ KILL 5", true},
      {"/*!KILL 5*/", true},
      {"DO 1; KILL 5", true},
      {"SELECT 1;kill connection 7", true},
      {"SELECT 'x; KILL 5'", false},
      {"SELECT `kill` FROM t", false},
      {"SELECT kill FROM t", false},
      {"SELECT 1 -- ; KILL 5", false},
      {"PREPARE s FROM 'KILL 5'", false},
      {"KILLER_QUERY()", false},
      {"KILL\xc3\xa9 5", false},  // KILLé (UTF-8): an identifier to the server.
      {"\f\vKILL 5", true},
      {"", false},
  };
  for (const auto& [text, kill] : rows) {
    EXPECT_EQ(ScanStatement(text).kill, kill) << text;
  }
}

protocol::OkPacket Ok(std::uint16_t status, std::vector<protocol::SessionChange> changes = {},
                      std::uint64_t insert_id = 0) {
  protocol::OkPacket ok;
  ok.status_flags = status;
  ok.last_insert_id = insert_id;
  if (!changes.empty()) {
    ok.status_flags |= protocol::status::kSessionStateChanged;
    ok.session_state = protocol::EncodeSessionState(changes);
  }
  return ok;
}

constexpr std::uint16_t kAutocommit = protocol::status::kAutocommit;
constexpr std::uint16_t kInTrans = protocol::status::kInTrans;

void Query(SessionState* state, std::string_view text, const protocol::OkPacket& ok) {
  state->OnQuery(text, ScanStatement(text));
  state->OnOk(ok, protocol::DecodeSessionState(protocol::AsBytes(ok.session_state)));
}

TEST(SessionStateTest, PlainQueriesStayClean) {
  SessionState state;
  Query(&state, "SELECT * FROM t", Ok(kAutocommit));
  Query(&state, "UPDATE t SET v = 'x' WHERE id = 1", Ok(kAutocommit));
  EXPECT_TRUE(state.clean(kAutocommit));
  EXPECT_TRUE(state.replay().empty());
}

TEST(SessionStateTest, SetStatementsAreKeptForReplayInOrderWithoutRepeats) {
  SessionState state;
  const protocol::SystemVariableChange tz{.name = "time_zone", .value = "+03:00"};
  Query(&state, "SET time_zone='+03:00'", Ok(kAutocommit, {tz, protocol::StateChange{}}));
  Query(&state, "SET autocommit=0", Ok(0, {protocol::StateChange{}}));
  Query(&state, "SET time_zone='+03:00'", Ok(0, {tz, protocol::StateChange{}}));
  EXPECT_TRUE(state.clean(0));
  EXPECT_EQ(state.replay(),
            (std::vector<std::string>{"SET autocommit=0", "SET time_zone='+03:00'"}));
}

TEST(SessionStateTest, UseAsMariaDbReportsItStaysClean) {
  // The session state of `USE other`'s OK, captured from MariaDB 10.11.
  const std::uint8_t raw[] = {0x01, 0x06, 0x05, 'o', 't', 'h', 'e', 'r', 0x02, 0x01, '1'};
  protocol::OkPacket ok = Ok(kAutocommit | protocol::status::kSessionStateChanged);
  ok.session_state.assign(reinterpret_cast<const char*>(raw), sizeof raw);
  SessionState state;
  Query(&state, "USE other", ok);
  EXPECT_TRUE(state.clean(kAutocommit)) << state.dirty_reason(kAutocommit);
}

TEST(SessionStateTest, SchemaChangeStaysClean) {
  SessionState state;
  Query(&state, "USE other",
        Ok(kAutocommit, {protocol::SchemaChange{.schema = "other"}, protocol::StateChange{}}));
  EXPECT_TRUE(state.clean(kAutocommit));
}

TEST(SessionStateTest, DirtyCases) {
  struct Row {
    const char* name;
    std::function<void(SessionState*)> run;
    std::uint16_t status;
  };
  const Row rows[] = {
      {"user variable", [](SessionState* s) { Query(s, "SET @x=1", Ok(kAutocommit)); },
       kAutocommit},
      {"temporary table (server reports)",
       [](SessionState* s) {
         Query(s, "CREATE TABLE IF NOT EXISTS x (a INT)",
               Ok(kAutocommit, {protocol::StateChange{}}));
       },
       kAutocommit},
      {"open transaction", [](SessionState* s) { Query(s, "BEGIN", Ok(kInTrans)); }, kInTrans},
      {"auto increment",
       [](SessionState* s) { Query(s, "INSERT INTO t VALUES ()", Ok(kAutocommit, {}, 7)); },
       kAutocommit},
      {"prepared statement", [](SessionState* s) { s->OnCommand(protocol::Command::kStmtPrepare); },
       kAutocommit},
      {"unscanned", [](SessionState* s) { s->OnUnscannedQuery(); }, kAutocommit},
      {"too many SETs",
       [](SessionState* s) {
         for (std::size_t i = 0; i <= SessionState::kMaxReplayStatements; ++i) {
           Query(s, "SET sql_mode='" + std::to_string(i) + "'",
                 Ok(kAutocommit, {protocol::StateChange{}}));
         }
       },
       kAutocommit},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    SessionState state;
    row.run(&state);
    EXPECT_FALSE(state.clean(row.status));
    EXPECT_NE(state.dirty_reason(row.status), "clean");
    state.Reset();
    EXPECT_TRUE(state.clean(kAutocommit));
    EXPECT_TRUE(state.replay().empty());
  }
}

TEST(ScanStatementTest, NamesTheVariablesTheProxyFollows) {
  const StatementScan wait = ScanStatement("set @@session.Wait_Timeout = 5");
  EXPECT_TRUE(wait.names_wait_timeout);
  EXPECT_FALSE(wait.names_profiling);
  EXPECT_TRUE(ScanStatement("SET profiling_history_size = 0").names_profiling);
  EXPECT_TRUE(ScanStatement("SET session_track_state_change = 1").names_state_change_tracking);
  // In a literal or a comment the name is not a name.
  EXPECT_FALSE(ScanStatement("SELECT 'wait_timeout' /* profiling */").names_wait_timeout);
  EXPECT_FALSE(ScanStatement("SELECT 'wait_timeout' /* profiling */").names_profiling);
}

TEST(FindSessionAssignmentTest, Table) {
  using Kind = SessionAssignment::Kind;
  struct Row {
    std::string_view text;
    Kind kind;
    std::int64_t number;
    std::string_view value;
  };
  const Row rows[] = {
      {"SET wait_timeout = 5", Kind::kNumber, 5, ""},
      {"set WAIT_TIMEOUT=5;", Kind::kNumber, 5, ""},
      {"SET SESSION wait_timeout = 7", Kind::kNumber, 7, ""},
      {"SET LOCAL wait_timeout := 8", Kind::kNumber, 8, ""},
      {"SET @@wait_timeout = 9", Kind::kNumber, 9, ""},
      {"SET @@session.wait_timeout = 10", Kind::kNumber, 10, ""},
      {"SET @@LOCAL.wait_timeout = 11", Kind::kNumber, 11, ""},
      {"SET @x = 1, wait_timeout = 12, sql_mode = 'a,b'", Kind::kNumber, 12, ""},
      {"SET wait_timeout = 1, wait_timeout = 13", Kind::kNumber, 13, ""},
      {"SET wait_timeout = DEFAULT", Kind::kDefault, 0, ""},
      {"SET wait_timeout = 1 + 1", Kind::kOther, 0, "1 + 1"},
      {"SET wait_timeout = @@global.interactive_timeout", Kind::kOther, 0,
       "@@global.interactive_timeout"},
      {"SET GLOBAL wait_timeout = 5", Kind::kNone, 0, ""},
      {"SET @@global.wait_timeout = 5", Kind::kNone, 0, ""},
      {"SET SESSION sql_mode = '', GLOBAL wait_timeout = 5", Kind::kNone, 0, ""},
      {"SET interactive_timeout = 5", Kind::kNone, 0, ""},
      {"SET sql_mode = 'wait_timeout=5'", Kind::kNone, 0, ""},
      {"SELECT wait_timeout = 5", Kind::kNone, 0, ""},
      {"SET wait_timeouts = 5", Kind::kNone, 0, ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.text);
    const SessionAssignment found = FindSessionAssignment(row.text, "wait_timeout");
    EXPECT_EQ(found.kind, row.kind);
    if (row.kind == Kind::kNumber) {
      EXPECT_EQ(found.number, row.number);
    }
    if (row.kind == Kind::kOther) {
      EXPECT_EQ(found.value, row.value);
    }
  }
}

}  // namespace
}  // namespace longlink::proxy
