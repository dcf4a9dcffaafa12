// The shape of a SQL statement (its digest text, as MariaDB's performance_schema and
// ProxySQL call it): the statement with its values replaced by `?`, so that the executions of
// one statement with different values count as one (QueryDigests, SHOW QUERIES;
// docs/QUERY_DIGESTS.md). Not to be confused with StatementShape (client_statements.h), which
// is what the proxy keeps of a prepared statement.
//
// The shape of a statement, read as MariaDB reads it in the default sql_mode:
//   - literals become `?`: strings ('..', ".." — "" is a string unless ANSI_QUOTES, which the
//     shape does not know of), with \ and doubled-quote escapes; numbers (12, 1.5, .5, 1e-3,
//     0x1F, 0b101) and a sign that can only be unary (`= -1`, `(-1`, `, +2`, `SELECT -1`);
//     X'..', B'..', N'..' and introduced strings (_utf8mb4'..', _binary 0x41);
//     `?` placeholders stay `?`; NULL, TRUE and FALSE are words, not values;
//   - comments (`-- `, `#`, /* */, optimizer hints /*+ */) are whitespace; the content of an
//     executable comment (/*! ... */, /*M! ... */, with its version number dropped) is read as
//     part of the statement, since the server runs it;
//   - a run of whitespace is one space; none at the ends; trailing `;`s dropped;
//   - MariaDB's reserved words and a few common statement keywords (BEGIN, COMMIT, START
//     TRANSACTION, SESSION, NAMES, ...) are upper-cased, and common function names (COUNT,
//     NOW, CONCAT, ...) where a `(` follows; every other word is kept as written (table names
//     are case-sensitive), as are a word after or before a `.` (a qualified name), quoted
//     identifiers, @variables and operators;
//   - a parenthesized list of values only becomes `(...)`: `IN (1, 2, 3)` and `IN (?)` are
//     both `IN (...)`; in a list of rows (after VALUES, or in a group), a row the same as the
//     one before it goes: `VALUES (1, 'a'), (2, 'b')` and `VALUES (?, NOW()), (?, NOW())` are
//     `VALUES (...)` and `VALUES (?, NOW())`, `IN ((1, 2), (3, 4))` is `IN ((...))`.
//
// Cut statements: only the first `max_bytes` bytes are read. A statement longer than that, or
// one whose text the caller has only the start of (`truncated_input`), gets a shape that ends
// with "...": its last word, which may be cut, is dropped, as is an unfinished list of values
// (`VALUES (...), (1, 2` is `VALUES (...)...`, whatever the number of rows). The shape is
// never longer than max_bytes + 3 bytes (a longer one is cut and ends with "...").
//
// Any bytes are safe (unterminated quotes and comments, NULs, invalid UTF-8): nothing is read
// beyond `sql`, and bytes that are neither SQL nor whitespace are copied as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace longlink::proxy {

// What ends the shape of a cut statement.
inline constexpr std::string_view kShapeCutMark = "...";

// The shape of `sql` (above).
std::string NormalizeQuery(std::string_view sql, std::size_t max_bytes,
                           bool truncated_input = false);

// The same, into `*shape` (replacing its contents and reusing its capacity: no allocation
// once it has grown to max_bytes + 3). REQUIRES: `sql` does not point into `*shape`.
void NormalizeQueryInto(std::string_view sql, std::size_t max_bytes, bool truncated_input,
                        std::string* shape);

// A 64-bit hash of `shape` (std::hash: for tables in memory, not to be stored).
std::uint64_t ShapeHash(std::string_view shape);

}  // namespace longlink::proxy
