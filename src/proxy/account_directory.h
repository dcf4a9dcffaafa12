// Who may log in at the proxy, and with what credentials: the users [[users]] lists (they
// win), and, with an [auth] user configured, any account the server knows, read from it when a
// client logs in as a user the config does not list.
//
// Lookups run on one connection of the [auth] user (opened on first use, reopened when lost),
// on one worker's loop, one query at a time, each within backend.connect_timeout: a login
// storm costs the server at most one connection and one query in flight, and a server that
// stops answering fails lookups instead of holding them. A result longlink cannot read in full
// (a row that does not parse, more than kMaxRows rows, a host pattern it cannot match) fails
// the lookup rather than drop rows, since a dropped row could be the one the server applies.
// Concurrent logins of one user share one lookup. The rows of the user name and of the anonymous
// user are read (MariaDB: mysql.global_priv; MySQL: mysql.user), and the one the server applies to
// the proxy's own connection is picked (auth::MatchAccount, with the proxy's address as the server
// sees it).
//
// Cache: an account read (or found missing) is trusted for [auth] cache_ttl; a login that
// fails against it re-reads it (logins failing together share one read). So a new account or
// password works at once, and an old password or a dropped or locked account is refused at
// most cache_ttl after the change, or at once after Forget (SIGHUP). The cache holds at most
// kMaxEntries users.
//
// Passwords: an account whose plugin needs the password itself at the backend (ed25519,
// caching_sha2_password) can only be served once a client sent it (caching_sha2_password full
// authentication); the proxy then keeps it in memory, for that account's credential as it was
// read, to check later logins by the account's own plugin. It is dropped when the account's
// stored credential changes.
#pragma once

#include <asio/any_io_executor.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "auth/account.h"
#include "auth/account_match.h"
#include "config/proxy_config.h"
#include "net/socket.h"
#include "pool/backend_connection.h"

namespace longlink::proxy {

// An account as a login sees it.
struct AccountView {
  auth::Account account = {};
  // The password the proxy believes the account has: the configured one, or one a client
  // proved earlier. Unconfirmed: a login checks it against the account's credentials.
  std::optional<std::string> known_password = {};
  bool listed = false;  // From [[users]] (never re-read).
};

struct AccountLookup {
  enum class Status {
    kFound,
    kNoAccount,    // The server has no account that matches (or lookups are off).
    kUnavailable,  // The lookup failed (error says why); the login cannot be decided.
  };
  Status status = Status::kNoAccount;
  std::optional<AccountView> view = {};
  std::string error = {};
};

class AccountDirectory {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxEntries = 10000;
  // Users found missing are kept apart, at most this many: a stream of made-up names never
  // pushes out real accounts (and the passwords remembered for them).
  static constexpr std::size_t kMaxMissingEntries = 1000;
  // Distinct users whose lookups may wait for the connection; beyond, lookups fail at once. A
  // re-read after a failed login may take only half of them, so that failed logins (made-up
  // names) cannot keep real ones from being read.
  static constexpr std::size_t kMaxWaitingLookups = 256;
  // Longest user name looked up (MariaDB: 128 characters of up to 4 bytes); a longer one is
  // an unknown user without a query.
  static constexpr std::size_t kMaxUserNameBytes = 512;

  // `endpoint` (the backend, for lookups) outlives the directory.
  AccountDirectory(const config::ProxyConfig& config, const pool::BackendEndpoint& endpoint);
  ~AccountDirectory();
  AccountDirectory(const AccountDirectory&) = delete;
  AccountDirectory& operator=(const AccountDirectory&) = delete;

  bool lookups_enabled() const { return !config_.auth.user.empty(); }

  // Where lookups run (one worker's loop). Call once, before any Find.
  void Start(asio::any_io_executor executor) { executor_ = executor; }
  // Closes the lookup connection. Call on the lookup executor's thread, or after it stopped.
  void Stop();

  // The account `user` logs in to. `refresh`: a login against the cached account failed, so
  // re-read it. Thread-safe; any executor.
  net::Awaitable<AccountLookup> Find(std::string user, bool refresh);

  // Forgets every account read (SIGHUP): each is read again at its next login.
  void Forget();

  // A login of `account` proved `password`: keep it for that account as read.
  void RememberPassword(const auth::Account& account, const std::string& password);

 private:
  struct Entry {
    Clock::time_point read_at = {};
    auth::Account account = {};
    std::optional<std::string> password = {};  // Proved for `account` as read.
  };
  struct Flight;

  // On executor_: reads `user`'s account (one lookup at a time), or joins a lookup of it
  // already under way.
  net::Awaitable<AccountLookup> Fetch(std::string user);
  net::Awaitable<AccountLookup> Query(const std::string& user);
  net::Awaitable<longlink::Status> Connect();
  AccountLookup Store(const std::string& user, std::optional<auth::Account> account);
  // What the cache says of `user` and when it was read, if it says anything. Under mutex_.
  std::optional<std::pair<Clock::time_point, AccountLookup>> CachedLocked(
      const std::string& user) const;

  const config::ProxyConfig& config_;
  const pool::BackendEndpoint& endpoint_;
  std::unordered_map<std::string, AccountView> listed_;
  asio::any_io_executor executor_;

  mutable std::mutex mutex_;  // Guards entries_ and missing_.
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, Clock::time_point> missing_;  // Users without an account.

  // On executor_ only. Shared with the query under way, which may outlive Stop (its frame is
  // destroyed with the loop).
  std::shared_ptr<pool::BackendConnection> connection_;
  auth::ConnectionOrigin origin_;
  bool mariadb_ = true;
  bool busy_ = false;
  std::deque<std::shared_ptr<Flight>> queue_;               // Waiting for the connection, in order.
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // By user.
  std::atomic<std::size_t> waiting_{0};                     // flights_.size(), for Find's check.
};

}  // namespace longlink::proxy
