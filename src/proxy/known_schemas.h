// The schemas a user's backend sessions are known to have entered, so that a client of that
// user who names one at login can be answered at the proxy without asking the server
// (ClientSession's login without a backend; docs/PROXY.md, "Login").
//
// A schema is known once a backend session of the user switched to it or was found in it,
// and forgotten when the server refuses it (ER_BAD_DB_ERROR, ER_DBACCESS_DENIED_ERROR, ...).
// What this misses: a schema dropped, or a grant revoked, by anyone while it is known; the
// client then learns it at its first command instead of at login (the command does not run
// and the session ends with the server's error).
//
// Bounded: past kCapacity entries it starts afresh (every schema is then learnt again by one
// login that asks the server). Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace longlink::proxy {

class KnownSchemas {
 public:
  static constexpr std::size_t kCapacity = 4096;

  bool Known(std::string_view user, std::string_view schema) const;
  // A backend session of `user` is in `schema` (`exists`), or the server refused it.
  void Note(std::string_view user, std::string_view schema, bool exists);
  std::size_t size() const;

 private:
  static std::string KeyOf(std::string_view user, std::string_view schema);

  mutable std::mutex mutex_;
  std::unordered_set<std::string> known_;  // Under mutex_: user, NUL, schema.
};

}  // namespace longlink::proxy
