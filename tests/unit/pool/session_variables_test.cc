#include "pool/session_variables.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "pool/tracker_settings.h"

namespace longlink::pool {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

SessionVariables Make(const Pairs& pairs) {
  SessionVariables variables;
  for (const auto& [name, value] : pairs) variables.Set(name, value);
  return variables;
}

TEST(SessionVariablesTest, TheLastSetMovesToTheEnd) {
  SessionVariables variables = Make({{"a", "1"}, {"b", "2"}, {"a", "3"}});
  ASSERT_EQ(variables.list().size(), 2u);
  EXPECT_EQ(variables.list()[0].name, "b");
  EXPECT_EQ(variables.list()[1].name, "a");
  EXPECT_EQ(*variables.Find("a"), "3");
  EXPECT_EQ(variables.Find("c"), nullptr);
  EXPECT_EQ(variables.bytes(), 4u);
  EXPECT_NE(variables.Fingerprint(), Make({{"a", "3"}, {"b", "2"}}).Fingerprint());
  EXPECT_EQ(variables.Fingerprint(), Make({{"b", "2"}, {"a", "3"}}).Fingerprint());
}

struct ValueRow {
  const char* name;
  const char* value;
  const char* sql;
};

TEST(SessionVariablesTest, SqlValues) {
  const std::vector<ValueRow> rows = {
      {"wait_timeout", "100", "100"},
      {"div_precision_increment", "-1", "-1"},
      {"long_query_time", "10.000000", "10.000000"},
      {"time_zone", "+01:00", "'+01:00'"},
      {"sql_mode", "", "''"},
      {"character_set_results", "", "NULL"},
      {"collation_connection", "", "NULL"},
      {"system_versioning_asof", "DEFAULT", "DEFAULT"},
      {"autocommit", "OFF", "'OFF'"},
      {"lc_time_names", "it's", "'it''s'"},
      {"init_connect", "a\\b", "X'615C62'"},
      {"sql_mode", "1.", "'1.'"},
      {"sql_mode", "-", "'-'"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(SqlValue(row.name, row.value), row.sql) << row.name << "=" << row.value;
  }
}

struct AssignRow {
  const char* name;
  Pairs from;
  Pairs to;
  std::optional<std::string> sql;
};

TEST(SessionVariablesTest, AssignmentsFor) {
  const std::vector<AssignRow> rows = {
      {"nothing", {}, {}, ""},
      {"same", {{"time_zone", "+01:00"}}, {{"time_zone", "+01:00"}}, ""},
      {"new", {}, {{"time_zone", "+01:00"}}, "SET SESSION time_zone='+01:00'"},
      {"changed",
       {{"time_zone", "+01:00"}, {"wait_timeout", "5"}},
       {{"time_zone", "+02:00"}, {"wait_timeout", "5"}},
       "SET SESSION time_zone='+02:00'"},
      {"two",
       {},
       {{"autocommit", "OFF"}, {"wait_timeout", "5"}},
       "SET SESSION autocommit='OFF', wait_timeout=5"},
      {"the connection has one the session lacks", {{"sql_mode", ""}}, {}, std::nullopt},
      {"character sets as a group, in the session's order",
       {{"character_set_connection", "utf8mb4"}},
       {{"character_set_connection", "utf8mb4"}, {"collation_connection", "utf8mb4_bin"}},
       "SET SESSION character_set_connection='utf8mb4', collation_connection='utf8mb4_bin'"},
      {"same character sets, another order",
       {{"collation_connection", "latin1_bin"}, {"character_set_connection", "utf8mb4"}},
       {{"character_set_connection", "utf8mb4"}, {"collation_connection", "latin1_bin"}},
       "SET SESSION character_set_connection='utf8mb4', collation_connection='latin1_bin'"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(AssignmentsFor(Make(row.from), Make(row.to)), row.sql) << row.name;
  }
}

TEST(SessionVariablesTest, OneShotVariables) {
  EXPECT_TRUE(IsOneShotVariable("insert_id"));
  EXPECT_TRUE(IsOneShotVariable("rand_seed1"));
  EXPECT_FALSE(IsOneShotVariable("time_zone"));
  EXPECT_FALSE(IsOneShotVariable("last_insert_id"));  // Moved by value.
}

TEST(TrackerSettingsTest, TracksVariable) {
  TrackerSettings settings;  // The server's default list.
  EXPECT_TRUE(settings.TracksVariable("autocommit"));
  EXPECT_TRUE(settings.TracksVariable("time_zone"));
  EXPECT_FALSE(settings.TracksVariable("sql_mode"));
  EXPECT_FALSE(settings.TracksVariable("time"));
  settings.system_variables = "SQL_MODE, wait_timeout";
  EXPECT_TRUE(settings.TracksVariable("sql_mode"));
  EXPECT_TRUE(settings.TracksVariable("wait_timeout"));
  EXPECT_FALSE(settings.TracksVariable("autocommit"));
  settings.system_variables = "*";
  EXPECT_TRUE(settings.TracksVariable("anything"));
  settings.system_variables = "";
  EXPECT_FALSE(settings.TracksVariable("autocommit"));
  EXPECT_EQ(ParseTransactionInfo("STATE"), TrackerSettings::TransactionInfo::kState);
  EXPECT_EQ(ParseTransactionInfo("CHARACTERISTICS"),
            TrackerSettings::TransactionInfo::kCharacteristics);
  EXPECT_EQ(ParseTransactionInfo("OFF"), TrackerSettings::TransactionInfo::kOff);
}

}  // namespace
}  // namespace longlink::pool
