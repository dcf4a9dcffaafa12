// The session system variables a client session has set, as the server's variable tracker
// (session_track_system_variables='*') reported them, and the SET that moves them to another
// backend connection (transaction pooling, docs/PROXY.md "Transaction pooling").
//
// Values are the tracker's text ("utf8mb4", "OFF", "100", "" for NULL). A variable is kept
// in the order it was last set: character sets and collations depend on each other (a
// character set brings its default collation), so they are replayed in the order the client
// set them.
//
// Value type; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::pool {

class SessionVariables {
 public:
  struct Variable {
    std::string name = {};  // Lowercase, as the tracker reports it.
    std::string value = {};
    friend bool operator==(const Variable&, const Variable&) = default;
  };

  // Records that the session set `name` to `value` (the last set moves to the end).
  void Set(std::string_view name, std::string_view value);
  void Clear() {
    list_.clear();
    bytes_ = 0;
  }
  bool empty() const { return list_.empty(); }
  const std::vector<Variable>& list() const { return list_; }
  // Names and values, in bytes (a session past a limit is not moved).
  std::size_t bytes() const { return bytes_; }
  // The value of `name`, if the session set it.
  const std::string* Find(std::string_view name) const;
  // A hash of the list (equal lists, equal fingerprints), to find a pooled connection whose
  // variables already match.
  std::uint64_t Fingerprint() const;

  friend bool operator==(const SessionVariables& a, const SessionVariables& b) {
    return a.list_ == b.list_;
  }

 private:
  std::vector<Variable> list_;
  std::size_t bytes_ = 0;
};

// The assignments that take a connection whose session set `from` to one that set `to`, as
// one statement ("SET SESSION a='x', b=1"); "" when nothing differs; nullopt when `from` set a
// variable `to` did not (the connection must be reset first: its value is not the global's).
// Character sets and collations are assigned as a group, in `to`'s order, if any of them
// differs.
std::optional<std::string> AssignmentsFor(const SessionVariables& from, const SessionVariables& to);

// `value` as an SQL literal for `SET SESSION name = ...`: numbers bare, the tracker's "" for a
// NULL character set or collation as NULL, "DEFAULT" for system_versioning_asof bare, anything
// else a quoted string.
std::string SqlValue(std::string_view name, std::string_view value);

// Variables a SET makes the next statement's business (insert_id, timestamp-free one-shots:
// rand_seed1/2, gtid_seq_no, pseudo_thread_id): a session that sets one is not moved.
bool IsOneShotVariable(std::string_view name);

}  // namespace longlink::pool
