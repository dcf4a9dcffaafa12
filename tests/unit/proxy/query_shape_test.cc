#include "proxy/query_shape.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>

namespace longlink::proxy {
namespace {

using namespace std::string_view_literals;

constexpr std::size_t kMax = 1024;

struct ShapeRow {
  std::string_view sql;
  std::string_view shape;
};

// Whole statements (nothing cut).
constexpr ShapeRow kRows[] = {
    // Literals of every kind.
    {"SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?"},
    {"SELECT 'abc', \"def\", 1.5, .5, 1e10, 1.5E-3, 7., 0x1F, 0b101",
     "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?"},
    {"SELECT X'1F', x'1f', B'01', b'1', N'text', n'x'", "SELECT ?, ?, ?, ?, ?, ?"},
    {"SELECT _utf8mb4'abc', _latin1 'x', _binary 0x41, _binary X'41' COLLATE utf8mb4_bin",
     "SELECT ?, ?, ?, ? COLLATE utf8mb4_bin"},
    {"SELECT _col 'alias' FROM t", "SELECT _col ? FROM t"},  // Not a character set.
    {R"(SELECT 'it''s', 'a\'b', "q""q", 'c:\\', 'x\\' FROM t)", "SELECT ?, ?, ?, ?, ? FROM t"},
    {"SELECT NULL, TRUE, false, null", "SELECT NULL, TRUE, FALSE, NULL"},
    {"SELECT CURRENT_TIMESTAMP, now(), utc_date", "SELECT CURRENT_TIMESTAMP, NOW(), UTC_DATE"},
    // Signs: unary after an operator, `(`, `,` or a keyword; binary after an operand.
    {"SELECT -1, +2, a-1, a - 1, a = -1, a = - 1, (-2), 5-3, x+ -.5",
     "SELECT ?, ?, a-?, a - ?, a = ?, a = ?, (...), ?-?, x+ ?"},
    {"SELECT a - -1, NULL - 1, COUNT(*) -1, f(x)-1, `c`-1, @v-1, ?-1",
     "SELECT a - ?, NULL - ?, COUNT(*) -?, f(x)-?, `c`-?, @v-?, ?-?"},
    {"SELECT 1--1", "SELECT ?-?"},  // `--` without a space is not a comment.
    {"SELECT * FROM t WHERE a > -1e5 AND b < -0x10", "SELECT * FROM t WHERE a > ? AND b < ?"},
    // Names that begin with digits, qualified names, non-ASCII names.
    {"SELECT 1abc, t1.5col, a1, 0x1G, 0b12 FROM t2",
     "SELECT 1abc, t1.5col, a1, 0x1G, 0b12 FROM t2"},
    {"SELECT * FROM café WHERE é = 1", "SELECT * FROM café WHERE é = ?"},
    {"SELECT $a, a$b FROM db1.t", "SELECT $a, a$b FROM db1.t"},
    // Keywords upper-cased; identifiers (table names are case-sensitive) as written.
    {"select Name from Users u join Orders o on o.user_id = u.id where u.Status in (1, 2)",
     "SELECT Name FROM Users u JOIN Orders o ON o.user_id = u.id WHERE u.Status IN (...)"},
    {"select t.select, `from`, t.`key` from t", "SELECT t.select, `from`, t.`key` FROM t"},
    {"select order.id from `order` order by 1", "SELECT order.id FROM `order` ORDER BY ?"},
    {"select count(*), Count(id), sum(x), status, date from t",
     "SELECT COUNT(*), COUNT(id), SUM(x), status, date FROM t"},
    {"SELECT count FROM counters", "SELECT count FROM counters"},
    {"begin", "BEGIN"},
    {"Commit", "COMMIT"},
    {"start transaction read only", "START TRANSACTION READ only"},
    {"set session wait_timeout = 28800", "SET SESSION wait_timeout = ?"},
    {"set names utf8mb4", "SET NAMES utf8mb4"},
    // Lists.
    {"SELECT * FROM t WHERE a IN (1, 2, 3)", "SELECT * FROM t WHERE a IN (...)"},
    {"SELECT * FROM t WHERE a IN ('x','y') OR b IN(1)",
     "SELECT * FROM t WHERE a IN (...) OR b IN(...)"},
    {"SELECT * FROM t WHERE a IN (?, ?, ?)", "SELECT * FROM t WHERE a IN (...)"},
    {"SELECT * FROM t WHERE a IN ( 1 , -2 )", "SELECT * FROM t WHERE a IN (...)"},
    {"SELECT * FROM t WHERE a IN (1, b)", "SELECT * FROM t WHERE a IN (?, b)"},
    {"SELECT * FROM t WHERE a IN (NULL, 1)", "SELECT * FROM t WHERE a IN (NULL, ?)"},
    {"SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4), (5, 6))",
     "SELECT * FROM t WHERE (a, b) IN ((...))"},
    {"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')",
     "INSERT INTO t (a, b) VALUES (...)"},
    {"INSERT INTO t (a, b) VALUES (?, ?),(?, ?)", "INSERT INTO t (a, b) VALUES (...)"},
    {"INSERT INTO t VALUES (1,NOW()),(2,NOW())", "INSERT INTO t VALUES (?,NOW())"},
    {"INSERT INTO t VALUES (1,NOW()),(2,?)", "INSERT INTO t VALUES (?,NOW()),(...)"},
    {"insert into t(a) select a from u where b = 1 on duplicate key update c = c + 1",
     "INSERT INTO t(a) SELECT a FROM u WHERE b = ? ON DUPLICATE KEY UPDATE c = c + ?"},
    {"SELECT f(a), f(a) FROM t", "SELECT f(a), f(a) FROM t"},
    {"SELECT NOW(), (a), (a) FROM t", "SELECT NOW(), (a), (a) FROM t"},  // Not rows.
    {"SELECT (1), (2)", "SELECT (...), (...)"},
    {"INSERT INTO t value (1), (2)", "INSERT INTO t value (...)"},
    {"CREATE TABLE t (a VARCHAR(255), b DECIMAL(10, 2))",
     "CREATE TABLE t (a VARCHAR(...), b DECIMAL(...))"},
    {"CALL proc(1, 'a')", "CALL proc(...)"},
    // UPDATE, DELETE, LIMIT.
    {"UPDATE t SET c = c - 1 /* app:42 */ WHERE id = -7 -- retry",
     "UPDATE t SET c = c - ? WHERE id = ?"},
    {"select * from Users where id = 42 and name = 'bob'",
     "SELECT * FROM Users WHERE id = ? AND name = ?"},
    {"SELECT * FROM t WHERE a IN (1, 2, 3) LIMIT 10, 20;",
     "SELECT * FROM t WHERE a IN (...) LIMIT ?, ?"},
    {"update users set name = 'bob', age = 30 where id = 7",
     "UPDATE users SET name = ?, age = ? WHERE id = ?"},
    {"DELETE FROM sessions WHERE expires < NOW() - INTERVAL 1 DAY",
     "DELETE FROM sessions WHERE expires < NOW() - INTERVAL ? DAY"},
    {"SELECT * FROM t LIMIT 10, 20", "SELECT * FROM t LIMIT ?, ?"},
    {"SELECT * FROM t LIMIT 10 OFFSET 20", "SELECT * FROM t LIMIT ? OFFSET ?"},
    // Variables, placeholders, accounts.
    {"SELECT @a, @@session.sql_mode, @@GLOBAL.max_connections, @`x y`, @'v' := 1",
     "SELECT @a, @@session.sql_mode, @@GLOBAL.max_connections, @`x y`, @'v' := ?"},
    {"SET @x = 'a', @y.z = 2", "SET @x = ?, @y.z = ?"},
    {"SELECT * FROM t WHERE a = ? AND b LIKE ?", "SELECT * FROM t WHERE a = ? AND b LIKE ?"},
    {"GRANT SELECT ON db.* TO 'app'@'%'", "GRANT SELECT ON db.* TO ?@?"},
    {"CREATE USER 'app'@localhost", "CREATE USER ?@localhost"},
    // Comments.
    {"SELECT /* hello */ 1 -- trailing\n", "SELECT ?"},
    {"SELECT 1 # note\nFROM dual", "SELECT ? FROM DUAL"},
    {"SELECT a/**/FROM t", "SELECT a FROM t"},
    {"SELECT 1 --\tcomment", "SELECT ?"},
    {"SELECT 1 --", "SELECT ?"},
    {"SELECT /*+ MAX_EXECUTION_TIME(1000) */ a FROM t", "SELECT a FROM t"},
    {"-- only a comment", ""},
    {"SELECT 'a -- b', \"/* c */\", `#d` FROM t", "SELECT ?, ?, `#d` FROM t"},
    // Executable comments: their content runs, so it is part of the shape.
    {"/*!40101 SET NAMES utf8mb4 */", "SET NAMES utf8mb4"},
    {"SELECT /*! STRAIGHT_JOIN */ a FROM t", "SELECT STRAIGHT_JOIN a FROM t"},
    {"CREATE TABLE t (a INT) /*M!100301 PAGE_COMPRESSED=1 */",
     "CREATE TABLE t (a INT) PAGE_COMPRESSED=?"},
    {"SELECT 1 /*!, 2 */", "SELECT ? , ?"},  // The comment is whitespace.
    {"SELECT 2 */ 3", "SELECT ? */ ?"},      // Outside /*! */, `*/` is two operators.
    // Whitespace, semicolons.
    {"   SELECT\n\t1   ;  ", "SELECT ?"},
    {"SELECT 1; SELECT 2;;", "SELECT ?; SELECT ?"},
    {"SELECT\r\n  a,\n  b\nFROM\tt", "SELECT a, b FROM t"},
    {"", ""},
    {"  \n ", ""},
    // Unterminated input (the text ends there: nothing is cut).
    {"SELECT 'abc", "SELECT ?"},
    {"SELECT \"a\\", "SELECT ?"},
    {"SELECT `abc", "SELECT `abc"},
    {"SELECT /* never closed", "SELECT"},
    {"SELECT 1 /*! 2", "SELECT ? ?"},
    {"'", "?"},
    {"SELECT (1, (2", "SELECT (?, (?"},
    {"SELECT 1))", "SELECT ?))"},
    {"@", "@"},
    {"SELECT @'x", "SELECT @'x"},
};

TEST(NormalizeQueryTest, Table) {
  for (const auto& row : kRows) {
    EXPECT_EQ(NormalizeQuery(row.sql, kMax), row.shape) << row.sql;
  }
}

// A shape is its own shape.
TEST(NormalizeQueryTest, Idempotent) {
  for (const auto& row : kRows) {
    const std::string shape = NormalizeQuery(row.sql, kMax);
    EXPECT_EQ(NormalizeQuery(shape, kMax), shape) << row.sql;
  }
}

TEST(NormalizeQueryTest, SameShapeForOtherValues) {
  const std::string_view same[] = {
      "SELECT * FROM t WHERE a = 1 AND b IN (1, 2, 3) LIMIT 10",
      "select * from t where a = 'x''y' and b in (4) limit 0",
      "SELECT  *  FROM t /* c */ WHERE a = -1.5e3 AND b IN ( ?, ? ) LIMIT ?;",
      "SELECT * FROM t WHERE a = _utf8mb4'z' AND b IN (0x1, X'01', NULL) LIMIT 1",
  };
  EXPECT_EQ(NormalizeQuery(same[0], kMax), NormalizeQuery(same[1], kMax));
  EXPECT_EQ(NormalizeQuery(same[0], kMax), NormalizeQuery(same[2], kMax));
  // NULL is not a value in a list (a list with it is a different statement).
  EXPECT_NE(NormalizeQuery(same[0], kMax), NormalizeQuery(same[3], kMax));
  // Tables differing in case are different tables.
  EXPECT_NE(NormalizeQuery("SELECT * FROM Users", kMax),
            NormalizeQuery("SELECT * FROM users", kMax));
}

struct CutRow {
  std::string_view sql;
  std::size_t max_bytes;
  bool truncated_input;
  std::string_view shape;
};

TEST(NormalizeQueryTest, Cut) {
  const CutRow rows[] = {
      {"SELECT a, b, c FROM t", 10, false, "SELECT a..."},  // "SELECT a, "
      {"SELECT abcdef FROM t", 10, false, "SELECT..."},     // "abc" may be cut: dropped.
      {"SELECT * FROM t WHERE a = 'long string'", 30, false, "SELECT * FROM t WHERE a = ?..."},
      {"SELECT * FROM t WHERE a IN (1, 2, 3, 4)", 32, false, "SELECT * FROM t WHERE a IN (...)..."},
      {"SELECT * FROM t WHERE a IN (1, b, 3, 4)", 32, false, "SELECT * FROM t WHERE a IN (?..."},
      {"SELECT 1", 0, false, "..."},
      {"SELECT 1", 8, false, "SELECT ?"},  // Exactly max_bytes: not cut.
      {"SELECT * FROM users", kMax, true, "SELECT * FROM..."},
      {"SELECT * FROM t WHERE a = 'abc", kMax, true, "SELECT * FROM t WHERE a = ?..."},
      {"SELECT * FROM t WHERE a = 1 ", kMax, true, "SELECT * FROM t WHERE a = ?..."},
      {"INSERT INTO t VALUES (1, 2), (3, 4)", kMax, true, "INSERT INTO t VALUES (...)..."},
      {"INSERT INTO t VALUES (1, f(2)), (3", kMax, true,
       "INSERT INTO t VALUES (?, f(...)), (...)..."},
      {"SELECT `a b", kMax, true, "SELECT..."},
      {"SELECT @abc", kMax, true, "SELECT..."},
      // Lists grow ("(1)" is "(...)"): the shape is cut at max_bytes.
      {"(1)(1)(1)", 9, false,
       "(...)(..."
       "..."},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(NormalizeQuery(row.sql, row.max_bytes, row.truncated_input), row.shape)
        << row.sql << " / " << row.max_bytes;
  }
}

// A multi-row INSERT cut anywhere after its first row has one shape, whatever its length.
TEST(NormalizeQueryTest, CutMultiRowInsertHasOneShape) {
  const std::string_view sql = "INSERT INTO t VALUES (1, 'a'), (22, 'bb'), (333, 'ccc'), (4, 'd')";
  const std::size_t first_row = std::string_view("INSERT INTO t VALUES (1, 'a')").size();
  for (std::size_t max = first_row + 1; max < sql.size(); ++max) {
    EXPECT_EQ(NormalizeQuery(sql, max), "INSERT INTO t VALUES (...)...") << max;
  }
  EXPECT_EQ(NormalizeQuery(sql, sql.size()), "INSERT INTO t VALUES (...)");
}

TEST(NormalizeQueryTest, AnyBytes) {
  EXPECT_EQ(NormalizeQuery("SELECT \0 1, 'a\0b'"sv, kMax), "SELECT \0 ?, ?"sv);
  EXPECT_EQ(NormalizeQuery("SELECT \xff\xfe FROM \x80", kMax), "SELECT \xff\xfe FROM \x80");
  EXPECT_EQ(NormalizeQuery("\x01\x02", kMax), "\x01\x02");

  // Random strings of SQL's special characters: never longer than max_bytes + 3, never read
  // out of bounds (run it under ASan), and "..." at the end of a statement that was cut.
  const std::string_view alphabet = "'\"`\\/*!M+-#\n ?@(),.;01xXb_eE aZ\xc3\xa9\0"sv;
  std::mt19937 random(42);
  std::string sql;
  std::string shape;
  for (int i = 0; i < 20000; ++i) {
    sql.clear();
    const std::size_t size = random() % 40;
    for (std::size_t j = 0; j < size; ++j) sql.push_back(alphabet[random() % alphabet.size()]);
    const std::size_t max = random() % 48;
    NormalizeQueryInto(sql, max, false, &shape);
    ASSERT_LE(shape.size(), max + kShapeCutMark.size()) << sql;
    if (sql.size() > max) {
      ASSERT_TRUE(shape.ends_with(kShapeCutMark)) << sql;
    }
  }
}

TEST(NormalizeQueryTest, IntoReusesTheBuffer) {
  std::string shape = "previous contents";
  NormalizeQueryInto("SELECT 1", kMax, false, &shape);
  EXPECT_EQ(shape, "SELECT ?");
}

TEST(ShapeHashTest, DistinguishesShapes) {
  EXPECT_EQ(ShapeHash("SELECT ?"), ShapeHash(NormalizeQuery("select 1", kMax)));
  std::unordered_set<std::uint64_t> hashes;
  for (const auto& row : kRows) hashes.insert(ShapeHash(NormalizeQuery(row.sql, kMax)));
  std::unordered_set<std::string> shapes;
  for (const auto& row : kRows) shapes.insert(NormalizeQuery(row.sql, kMax));
  EXPECT_EQ(hashes.size(), shapes.size());
}

}  // namespace
}  // namespace longlink::proxy
