// SessionState in transaction pooling, fed the server's replies as MariaDB 10.11 sends them
// with every tracker on (the entries below were captured from the server: docs/PROXY.md,
// "Transaction pooling"); and PlanRestore.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pool/backend_connection.h"
#include "protocol/session_track.h"
#include "proxy/session_restore.h"
#include "proxy/session_state.h"

namespace longlink::proxy {
namespace {

using protocol::SessionChange;
constexpr std::uint16_t kAutocommit = protocol::status::kAutocommit;
constexpr std::uint16_t kInTrans = protocol::status::kInTrans;

protocol::OkPacket Ok(std::uint16_t status, std::vector<SessionChange> changes = {},
                      std::uint64_t insert_id = 0, std::uint16_t warnings = 0) {
  protocol::OkPacket ok;
  ok.status_flags = status;
  ok.last_insert_id = insert_id;
  ok.warnings = warnings;
  if (!changes.empty()) {
    ok.status_flags |= protocol::status::kSessionStateChanged;
    ok.session_state = protocol::EncodeSessionState(changes);
  }
  return ok;
}

SessionChange Var(std::string name, std::string value) {
  return protocol::SystemVariableChange{.name = std::move(name), .value = std::move(value)};
}
SessionChange StateChanged() { return protocol::StateChange{}; }
SessionChange Transaction(std::string state) {
  return protocol::TransactionStateChange{.state = std::move(state)};
}

// Runs `text` with one OK reply; returns the status flags it ended with.
std::uint16_t RunQuery(SessionState* state, std::string_view text, const protocol::OkPacket& ok) {
  state->OnQuery(text, ScanStatement(text));
  state->OnOk(ok, protocol::DecodeSessionState(protocol::AsBytes(ok.session_state)));
  state->OnReplyEnd(protocol::Command::kQuery, ok.warnings, false);
  return ok.status_flags;
}

struct Row {
  const char* text;
  protocol::OkPacket reply;
  PinReason pin;  // What pin_reason() says after it.
  bool movable;
};

TEST(TransactionStateTest, WhatMovesAndWhatPins) {
  const std::vector<Row> rows = {
      {"SELECT 1", Ok(kAutocommit), PinReason::kNone, true},
      {"SET SESSION time_zone='+01:00'",
       Ok(kAutocommit, {Var("time_zone", "+01:00"), StateChanged()}), PinReason::kNone, true},
      {"USE other", Ok(kAutocommit, {protocol::SchemaChange{.schema = "other"}, StateChanged()}),
       PinReason::kNone, true},
      {"BEGIN", Ok(kAutocommit | kInTrans, {Transaction("T_______")}), PinReason::kNone, false},
      {"SET @a = 1", Ok(kAutocommit, {StateChanged()}), PinReason::kUserVariable, false},
      {"SELECT @a := 1", Ok(kAutocommit), PinReason::kUserVariable, false},
      {"CREATE TEMPORARY TABLE t (x INT)", Ok(kAutocommit, {StateChanged()}),
       PinReason::kTemporaryTable, false},
      {"DO 1", Ok(kAutocommit, {StateChanged()}), PinReason::kStateChange, false},
      {"LOCK TABLES t READ", Ok(kAutocommit, {Transaction("_______L")}), PinReason::kLockTables,
       false},
      {"SET insert_id = 5", Ok(kAutocommit, {Var("insert_id", "5"), StateChanged()}),
       PinReason::kOneShotVariable, false},
      {"SET session_track_schema = OFF", Ok(kAutocommit, {StateChanged()}),
       PinReason::kSessionTracking, false},
      {"SELECT CONNECTION_ID()", Ok(kAutocommit), PinReason::kConnectionId, false},
      {"SELECT CAST('1x' AS INT)", Ok(kAutocommit, {}, 0, 1), PinReason::kWarnings, false},
      {"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", Ok(kAutocommit), PinReason::kFoundRows,
       false},
      {"INSERT INTO t (v) VALUES (1)", Ok(kAutocommit, {}, 7), PinReason::kLastInsertId, false},
      {"UPDATE t SET id = LAST_INSERT_ID(id)", Ok(kAutocommit), PinReason::kLastInsertId, false},
      {"SELECT LAST_INSERT_ID()", Ok(kAutocommit), PinReason::kNone, true},
      {"XA START 'x'", Ok(kAutocommit | kInTrans, {Transaction("T_______")}), PinReason::kXa,
       false},
  };
  for (const auto& row : rows) {
    SessionState state(/*transaction_pooling=*/true);
    const std::uint16_t status = RunQuery(&state, row.text, row.reply);
    EXPECT_EQ(state.pin_reason(), row.pin) << row.text;
    EXPECT_EQ(state.movable(status), row.movable) << row.text;
  }
}

TEST(TransactionStateTest, HoldsLastUntilTheNextCommand) {
  SessionState state(true);
  RunQuery(&state, "SELECT CAST('1x' AS INT)", Ok(kAutocommit, {}, 0, 1));
  EXPECT_EQ(state.pin_reason(), PinReason::kWarnings);
  // COM_PING does not clear the warnings.
  state.OnCommand(protocol::Command::kPing);
  state.OnReplyEnd(protocol::Command::kPing, 0, false);
  EXPECT_EQ(state.pin_reason(), PinReason::kWarnings);
  RunQuery(&state, "SELECT 1", Ok(kAutocommit));
  EXPECT_TRUE(state.movable(kAutocommit));
  // A failed statement leaves its error for SHOW WARNINGS.
  state.OnQuery("SELECT nope", ScanStatement("SELECT nope"));
  state.OnReplyEnd(protocol::Command::kQuery, 0, true);
  EXPECT_EQ(state.pin_reason(), PinReason::kWarnings);
}

TEST(TransactionStateTest, LastInsertIdIsLearnt) {
  SessionState state(true);
  RunQuery(&state, "INSERT INTO t (v) VALUES (1)", Ok(kAutocommit, {}, 7));
  EXPECT_FALSE(state.last_insert_id_known());
  state.LearnLastInsertId(Ok(kAutocommit, {Var("last_insert_id", "7"), StateChanged()}));
  RunQuery(&state, "SELECT 1", Ok(kAutocommit));
  EXPECT_TRUE(state.last_insert_id_known());
  EXPECT_EQ(state.last_insert_id(), 7u);
  EXPECT_TRUE(state.movable(kAutocommit));
  EXPECT_TRUE(state.variables().empty());
}

TEST(TransactionStateTest, VariablesAndCollations) {
  SessionState state(true);
  RunQuery(&state, "SET NAMES utf8mb4 COLLATE utf8mb4_bin",
           Ok(kAutocommit,
              {Var("character_set_connection", "utf8mb4"), Var("character_set_client", "utf8mb4"),
               Var("character_set_results", "utf8mb4"), StateChanged()}));
  RunQuery(&state, "SET autocommit = 0", Ok(0, {Var("autocommit", "OFF"), StateChanged()}));
  EXPECT_TRUE(state.movable(0));
  std::vector<std::string> names;
  for (const auto& variable : state.variables().list()) names.push_back(variable.name);
  EXPECT_EQ(names, (std::vector<std::string>{"character_set_connection", "character_set_client",
                                             "character_set_results", "collation_connection",
                                             "autocommit"}));
  EXPECT_EQ(*state.variables().Find("collation_connection"), "utf8mb4_bin");
  RunQuery(&state, "SET NAMES latin1",
           Ok(0, {Var("character_set_connection", "latin1"), Var("character_set_client", "latin1"),
                  Var("character_set_results", "latin1"), StateChanged()}));
  // The collation set before the character set is replayed first: latin1's default wins.
  EXPECT_EQ(state.variables().list().front().name, "collation_connection");
  state.Reset();
  EXPECT_TRUE(state.variables().empty());
  EXPECT_EQ(state.pin_reason(), PinReason::kNone);
}

TEST(TransactionStateTest, ScanSetNamesCollation) {
  EXPECT_EQ(ScanStatement("SET NAMES utf8mb4 COLLATE utf8mb4_bin").names_collation, "utf8mb4_bin");
  EXPECT_EQ(ScanStatement("set names 'latin1' collate 'LATIN1_BIN'").names_collation, "latin1_bin");
  EXPECT_EQ(ScanStatement("SET NAMES utf8mb4").names_collation, "");
  EXPECT_EQ(ScanStatement("SET collation_connection = x").names_collation, "");
}

TEST(TransactionStateTest, PlanRestore) {
  pool::BackendState backend;
  backend.schema = "app";
  backend.reset_at = pool::Clock::now();
  const auto started = backend.reset_at - std::chrono::seconds(1);
  pool::BackendConnection connection(net::ByteStream(), backend);
  SessionState state(true);
  state.set_schema("app");
  EXPECT_TRUE(PlanRestore(connection, state, started).empty());
  RunQuery(&state, "SET time_zone='+01:00'", Ok(kAutocommit, {Var("time_zone", "+01:00")}));
  RunQuery(&state, "USE other", Ok(kAutocommit, {protocol::SchemaChange{.schema = "other"}}));
  RestorePlan plan = PlanRestore(connection, state, started);
  EXPECT_EQ(plan.replies, 2);
  EXPECT_FALSE(plan.reset);
  EXPECT_EQ(plan.assignments, "SET SESSION time_zone='+01:00'");
  EXPECT_TRUE(plan.init_db);
  // A connection reset before the session began: reset first.
  plan = PlanRestore(connection, state, backend.reset_at + std::chrono::seconds(1));
  EXPECT_TRUE(plan.reset);
  EXPECT_EQ(plan.replies, pool::BackendConnection::kResetReplies + 2);
  // A connection with a variable the session lacks: reset first.
  connection.state().variables.Set("sql_mode", "");
  plan = PlanRestore(connection, state, started);
  EXPECT_TRUE(plan.reset);
  // After it ran, nothing is left to do.
  MarkRestored(&connection.state(), state, plan.reset);
  EXPECT_TRUE(PlanRestore(connection, state, started).empty());
  // A session without a schema on a connection that has one.
  SessionState none(true);
  EXPECT_TRUE(PlanRestore(connection, none, started).needs_schema_clear);
}

}  // namespace
}  // namespace longlink::proxy

namespace longlink::proxy {
namespace {

TEST(PinReasonTest, EveryReasonHasItsOwnNameAndText) {
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < kPinReasonCount; ++i) {
    const auto reason = static_cast<PinReason>(i);
    EXPECT_FALSE(PinReasonName(reason).empty()) << i;
    EXPECT_FALSE(PinReasonText(reason).empty()) << i;
    names.push_back(PinReasonName(reason));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_EQ(PinReasonName(PinReason::kLastInsertId), "last_insert_id");
  EXPECT_EQ(PinReasonName(PinReason::kUserVariable), "user_variable");
  EXPECT_EQ(LastsOf(PinReason::kWarnings), PinLasts::kUntilNextCommand);
  EXPECT_EQ(LastsOf(PinReason::kTemporaryTable), PinLasts::kUntilReset);
}

}  // namespace
}  // namespace longlink::proxy
