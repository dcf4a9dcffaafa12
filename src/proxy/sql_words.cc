#include "proxy/sql_words.h"

#include <algorithm>

namespace longlink::proxy::sql {
namespace {

// Upper-cased wherever they are words of the statement: MariaDB's reserved words (which
// cannot be bare identifiers, so folding them never merges two tables) and a few common
// statement keywords that are not reserved.
// clang-format off
constexpr std::array<std::string_view, 268> kKeywords = {
    "ACCESSIBLE", "ADD", "ALL", "ALTER", "ANALYZE", "AND", "AS", "ASC", "ASENSITIVE",
    "AUTOCOMMIT", "BEFORE", "BEGIN", "BETWEEN", "BIGINT", "BINARY", "BLOB", "BOTH", "BY", "CALL",
    "CASCADE", "CASE", "CHANGE", "CHAR", "CHARACTER", "CHECK", "COLLATE", "COLUMN", "COLUMNS",
    "COMMIT", "COMMITTED", "CONDITION", "CONSTRAINT", "CONTINUE", "CONVERT", "CREATE", "CROSS",
    "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER",
    "CURSOR", "DATABASE", "DATABASES", "DAY_HOUR", "DAY_MICROSECOND", "DAY_MINUTE", "DAY_SECOND",
    "DEALLOCATE", "DEC", "DECIMAL", "DECLARE", "DEFAULT", "DELAYED", "DELETE", "DESC",
    "DESCRIBE", "DETERMINISTIC", "DISTINCT", "DISTINCTROW", "DIV", "DO", "DOUBLE", "DROP",
    "DUAL", "DUPLICATE", "EACH", "ELSE", "ELSEIF", "ENCLOSED", "ESCAPED", "EXCEPT", "EXECUTE",
    "EXISTS", "EXIT", "EXPLAIN", "FALSE", "FETCH", "FLOAT", "FLOAT4", "FLOAT8", "FLUSH", "FOR",
    "FORCE", "FOREIGN", "FROM", "FULLTEXT", "GENERAL", "GLOBAL", "GRANT", "GROUP", "HAVING",
    "HIGH_PRIORITY", "HOUR_MICROSECOND", "HOUR_MINUTE", "HOUR_SECOND", "IF", "IGNORE", "IN",
    "INDEX", "INFILE", "INNER", "INOUT", "INSENSITIVE", "INSERT", "INT", "INT1", "INT2", "INT3",
    "INT4", "INT8", "INTEGER", "INTERSECT", "INTERVAL", "INTO", "IS", "ISOLATION", "ITERATE",
    "JOIN", "KEY", "KEYS", "KILL", "LEADING", "LEAVE", "LEFT", "LIKE", "LIMIT", "LINEAR",
    "LINES", "LOAD", "LOCALTIME", "LOCALTIMESTAMP", "LOCK", "LONG", "LONGBLOB", "LONGTEXT",
    "LOOP", "LOW_PRIORITY", "MATCH", "MAXVALUE", "MEDIUMBLOB", "MEDIUMINT", "MEDIUMTEXT",
    "MIDDLEINT", "MINUTE_MICROSECOND", "MINUTE_SECOND", "MOD", "MODIFIES", "NAMES", "NATURAL",
    "NOT", "NO_WRITE_TO_BINLOG", "NULL", "NUMERIC", "OFFSET", "ON", "OPTIMIZE", "OPTION",
    "OPTIONALLY", "OR", "ORDER", "OUT", "OUTER", "OUTFILE", "OVER", "PARTITION", "POSITION",
    "PRECISION", "PREPARE", "PRIMARY", "PROCEDURE", "PROCESSLIST", "PURGE", "RANGE", "READ",
    "READS", "READ_WRITE", "REAL", "RECURSIVE", "REFERENCES", "REGEXP", "RELEASE", "RENAME",
    "REPEAT", "REPEATABLE", "REPLACE", "REQUIRE", "RESIGNAL", "RESTRICT", "RETURN", "RETURNING",
    "REVOKE", "RIGHT", "RLIKE", "ROLLBACK", "ROWS", "ROW_NUMBER", "SAVEPOINT", "SCHEMA",
    "SCHEMAS", "SECOND_MICROSECOND", "SELECT", "SENSITIVE", "SEPARATOR", "SERIALIZABLE",
    "SESSION", "SET", "SHOW", "SIGNAL", "SLOW", "SMALLINT", "SPATIAL", "SPECIFIC", "SQL",
    "SQLEXCEPTION", "SQLSTATE", "SQLWARNING", "SQL_BIG_RESULT", "SQL_CALC_FOUND_ROWS",
    "SQL_SMALL_RESULT", "SSL", "START", "STARTING", "STRAIGHT_JOIN", "TABLE", "TABLES",
    "TEMPORARY", "TERMINATED", "THEN", "TINYBLOB", "TINYINT", "TINYTEXT", "TO", "TRAILING",
    "TRANSACTION", "TRIGGER", "TRUE", "TRUNCATE", "UNCOMMITTED", "UNDO", "UNION", "UNIQUE",
    "UNLOCK", "UNSIGNED", "UPDATE", "USAGE", "USE", "USING", "UTC_DATE", "UTC_TIME",
    "UTC_TIMESTAMP", "VALUES", "VARBINARY", "VARCHAR", "VARCHARACTER", "VARIABLES", "VARYING",
    "WARNINGS", "WHEN", "WHERE", "WHILE", "WINDOW", "WITH", "WORK", "WRITE", "XOR", "YEAR_MONTH",
    "ZEROFILL"
};
// clang-format on

// Upper-cased only when a `(` follows: built-in functions in common use.
// clang-format off
constexpr std::array<std::string_view, 63> kFunctions = {
    "ABS", "AVG", "CAST", "CEIL", "CEILING", "CHAR_LENGTH", "COALESCE", "CONCAT", "CONCAT_WS",
    "COUNT", "DATE", "DATEDIFF", "DATE_ADD", "DATE_FORMAT", "DATE_SUB", "DAY", "FIND_IN_SET",
    "FLOOR", "FOUND_ROWS", "FROM_UNIXTIME", "GREATEST", "GROUP_CONCAT", "HEX", "HOUR", "IFNULL",
    "ISNULL", "JSON_ARRAY", "JSON_CONTAINS", "JSON_EXTRACT", "JSON_OBJECT", "JSON_UNQUOTE",
    "JSON_VALUE", "LAST_INSERT_ID", "LEAST", "LENGTH", "LOWER", "LPAD", "LTRIM", "MAX", "MD5",
    "MIN", "MONTH", "NOW", "NULLIF", "RAND", "ROUND", "ROW_COUNT", "RPAD", "RTRIM", "SHA1",
    "SHA2", "SUBSTR", "SUBSTRING", "SUBSTRING_INDEX", "SUM", "SYSDATE", "TIMESTAMPDIFF", "TRIM",
    "UNHEX", "UNIX_TIMESTAMP", "UPPER", "UUID", "YEAR"
};
// clang-format on

// Keywords that are values: a sign after them is binary (`NULL - 1`), and a list holding one
// is not a list of literals.
// clang-format off
constexpr std::array<std::string_view, 13> kValueKeywords = {
    "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "FALSE",
    "LOCALTIME", "LOCALTIMESTAMP", "NULL", "TRUE", "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP"
};
// clang-format on

// Character sets, for an introducer separated from its literal by whitespace (`_latin1 'a'`;
// `_x'a'`, adjacent, is an introducer whatever x is).
// clang-format off
constexpr std::array<std::string_view, 41> kCharsets = {
    "armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
    "cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr", "gb2312", "gbk", "geostd8", "greek",
    "hebrew", "hp8", "keybcs2", "koi8r", "koi8u", "latin1", "latin2", "latin5", "latin7",
    "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis", "utf16", "utf16le", "utf32",
    "utf8", "utf8mb3", "utf8mb4"
};
// clang-format on

static_assert(std::is_sorted(kKeywords.begin(), kKeywords.end()));
static_assert(std::is_sorted(kFunctions.begin(), kFunctions.end()));
static_assert(std::is_sorted(kValueKeywords.begin(), kValueKeywords.end()));
static_assert(std::is_sorted(kCharsets.begin(), kCharsets.end()));

// The keywords and functions by hash (WordHash of the upper-case word): built once, a lookup
// is a hash of the word as it is upper-cased and, mostly, one comparison.
class WordTable {
 public:
  WordTable() {
    for (const auto word : kKeywords) {
      Insert(word, std::binary_search(kValueKeywords.begin(), kValueKeywords.end(), word)
                       ? WordKind::kValueKeyword
                       : WordKind::kKeyword);
    }
    for (const auto word : kFunctions) Insert(word, WordKind::kFunction);
  }

  WordKind Find(std::string_view upper, std::uint64_t hash) const {
    for (std::size_t slot = hash % kSlots;; slot = (slot + 1) % kSlots) {
      if (slots_[slot].word.empty()) return WordKind::kOther;
      if (slots_[slot].word == upper) return slots_[slot].kind;
    }
  }

 private:
  static constexpr std::size_t kSlots = 1024;  // At most a third full: short probes.
  static_assert(kKeywords.size() + kFunctions.size() < kSlots / 3);
  struct Slot {
    std::string_view word = {};
    WordKind kind = WordKind::kOther;
  };

  void Insert(std::string_view word, WordKind kind) {
    std::uint64_t hash = kWordHashStart;
    for (const char c : word) hash = WordHash(hash, c);
    std::size_t slot = hash % kSlots;
    while (!slots_[slot].word.empty()) slot = (slot + 1) % kSlots;
    slots_[slot] = Slot{word, kind};
  }

  std::array<Slot, kSlots> slots_{};
};

}  // namespace

WordKind FindWord(std::string_view upper, std::uint64_t hash) {
  static const WordTable table;
  return table.Find(upper, hash);
}

bool IsCharset(std::string_view lower) {
  return std::binary_search(kCharsets.begin(), kCharsets.end(), lower);
}

}  // namespace longlink::proxy::sql
