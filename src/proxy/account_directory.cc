#include "proxy/account_directory.h"

#include <asio/co_spawn.hpp>
#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <charconv>

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "protocol/constants.h"

namespace longlink::proxy {

namespace {

// Rows of one user name and the anonymous user; more would be a strange server.
constexpr std::size_t kMaxRows = 256;

std::string HexLiteral(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out = "X'";
  for (const char byte : text) {
    const auto c = static_cast<unsigned char>(byte);
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xF]);
  }
  out.push_back('\'');
  return out;
}

std::int64_t Integer(const std::optional<std::string>& text) {
  std::int64_t value = 0;
  if (text) std::from_chars(text->data(), text->data() + text->size(), value);
  return value;
}

std::optional<std::int64_t> OptionalInteger(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  return Integer(text);
}

std::string Text(const std::optional<std::string>& text) { return text.value_or(""); }

AccountView ListedView(const config::UserSettings& user) {
  AccountView view;
  view.listed = true;
  // require_tls is REQUIRE SSL: TLS, also on the Unix socket.
  if (user.require_tls) view.account.tls.kind = auth::AccountTls::Kind::kAny;
  view.account.user = user.name;
  view.account.host = "%";
  auth::AccountCredential credential{.plugin = std::string(auth::server_plugin::kNativePassword)};
  if (user.password) {
    credential.auth_string =
        auth::NativePasswordCredential::FromPassword(*user.password).HashString();
    view.known_password = *user.password;
  } else {
    credential.auth_string = user.password_hash.value_or("");
  }
  view.account.credentials.push_back(std::move(credential));
  return view;
}

}  // namespace

struct AccountDirectory::Flight {
  explicit Flight(asio::any_io_executor executor) : wake(executor) {
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  // Cancelled when the flight's turn comes or it is done: every waiter looks again.
  asio::steady_timer wake;
  bool turn = false;
  bool done = false;
  AccountLookup result = {};
};

AccountDirectory::AccountDirectory(const config::ProxyConfig& config,
                                   const pool::BackendEndpoint& endpoint)
    : config_(config), endpoint_(endpoint) {
  for (const auto& user : config_.users) listed_.emplace(user.name, ListedView(user));
}

AccountDirectory::~AccountDirectory() = default;

void AccountDirectory::Stop() {
  if (connection_) connection_->stream().Close();
  connection_.reset();  // A query's frame may still hold it; it goes with the frame.
}

net::Awaitable<AccountLookup> AccountDirectory::Find(std::string user, bool refresh) {
  if (auto it = listed_.find(user); it != listed_.end()) {
    co_return AccountLookup{.status = AccountLookup::Status::kFound, .view = it->second};
  }
  if (!lookups_enabled() || user.size() > kMaxUserNameBytes) co_return AccountLookup{};
  {
    std::lock_guard lock(mutex_);
    const auto cached = CachedLocked(user);
    if (cached && !refresh && Clock::now() - cached->first < config_.auth.cache_ttl) {
      co_return cached->second;
    }
    // Re-reads after failures stay out of the second half of the queue.
    if (refresh && waiting_.load() >= kMaxWaitingLookups / 2) {
      co_return cached ? cached->second : AccountLookup{};
    }
  }
  auto fetch = asio::co_spawn(executor_, Fetch(std::move(user)), asio::use_awaitable);
  co_return co_await std::move(fetch);
}

void AccountDirectory::Forget() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  missing_.clear();
}

void AccountDirectory::RememberPassword(const auth::Account& account, const std::string& password) {
  if (listed_.contains(account.user)) return;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account.user);
  if (it == entries_.end() || it->second.account != account) return;
  it->second.password = password;
}

std::optional<std::pair<AccountDirectory::Clock::time_point, AccountLookup>>
AccountDirectory::CachedLocked(const std::string& user) const {
  if (auto it = entries_.find(user); it != entries_.end()) {
    const Entry& entry = it->second;
    AccountView view{.account = entry.account, .known_password = entry.password};
    return std::pair(entry.read_at, AccountLookup{.status = AccountLookup::Status::kFound,
                                                  .view = std::move(view)});
  }
  if (auto it = missing_.find(user); it != missing_.end()) {
    return std::pair(it->second, AccountLookup{});
  }
  return std::nullopt;
}

AccountLookup AccountDirectory::Store(const std::string& user,
                                      std::optional<auth::Account> account) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (!account) {
    entries_.erase(user);
    if (missing_.size() >= kMaxMissingEntries && !missing_.contains(user)) missing_.clear();
    missing_[user] = now;
    return AccountLookup{};
  }
  missing_.erase(user);
  if (entries_.size() >= kMaxEntries && !entries_.contains(user)) {
    // Drop what has expired; if that is not enough, start over (the cache only saves queries).
    std::erase_if(entries_, [&](const auto& item) {
      return now - item.second.read_at >= config_.auth.cache_ttl;
    });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  Entry& entry = entries_[user];
  // A password proved for the account as it was stays only while the credentials are the same.
  if (entry.account.credentials != account->credentials) entry.password.reset();
  entry.account = std::move(*account);
  entry.read_at = now;
  return CachedLocked(user)->second;
}

net::Awaitable<AccountLookup> AccountDirectory::Fetch(std::string user) {
  if (auto it = flights_.find(user); it != flights_.end()) {
    const std::shared_ptr<Flight> flight = it->second;
    while (!flight->done) co_await flight->wake.async_wait(net::kNoThrow);
    co_return flight->result;
  }
  if (flights_.size() >= kMaxWaitingLookups) {
    co_return AccountLookup{.status = AccountLookup::Status::kUnavailable,
                            .error = "too many account lookups waiting"};
  }
  auto flight = std::make_shared<Flight>(executor_);
  flights_.emplace(user, flight);
  waiting_.store(flights_.size());
  if (busy_) {
    queue_.push_back(flight);
    while (!flight->turn) co_await flight->wake.async_wait(net::kNoThrow);
  }
  busy_ = true;
  // However the query ends (even by an exception, or by the loop's end), the flight ends and
  // the connection goes to the next in line.
  struct Finish {
    AccountDirectory& directory;
    const std::string& user;
    Flight& flight;
    ~Finish() {
      flight.done = true;
      directory.flights_.erase(user);
      directory.waiting_.store(directory.flights_.size());
      flight.wake.cancel();
      if (directory.queue_.empty()) {
        directory.busy_ = false;
        return;
      }
      const std::shared_ptr<Flight> next = directory.queue_.front();
      directory.queue_.pop_front();
      next->turn = true;
      next->wake.cancel();
    }
  };
  {
    Finish finish{*this, user, *flight};
    auto query = Query(user);
    flight->result = co_await std::move(query);
  }
  co_return flight->result;
}

net::Awaitable<longlink::Status> AccountDirectory::Connect() {
  const pool::PoolKey key{.user = config_.auth.user,
                          .collation = protocol::collation::kUtf8mb4GeneralCi};
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword(config_.auth.password);
  auto open = pool::BackendConnection::Open(executor_, endpoint_, key, secret);
  pool::OpenResult opened = co_await std::move(open);
  if (!opened.connection) co_return Error{"the [auth] user cannot log in: " + opened.error};
  const std::shared_ptr<pool::BackendConnection> connection = std::move(opened.connection);
  mariadb_ = !(connection->state().server.capabilities & protocol::capability::kClientMysql);
  // How the server sees the proxy: USER()'s host part is the name it resolved, or the address
  // (which may not be this end's, behind NAT).
  const std::string sql = "SELECT USER()";
  Result<pool::Row> row = Error{""};
  {
    net::Deadline deadline(connection->stream().lowest_layer(), config_.backend.connect_timeout);
    auto query = connection->QueryRow(sql);
    row = co_await std::move(query);
  }
  if (!row.ok() || row->empty()) {
    co_return Error{"reading USER(): " + (row.ok() ? std::string("no row") : row.error().message)};
  }
  const std::string who = Text((*row)[0]);
  const std::string host = who.substr(who.rfind('@') + 1);
  std::error_code not_ip;
  asio::ip::make_address(host, not_ip);
  if (!not_ip) {
    origin_ = auth::ConnectionOrigin{.ip = host};
  } else {
    origin_ = auth::ConnectionOrigin{
        .host_name = host, .ip = net::LocalIpAddress(connection->stream().lowest_layer())};
  }
  connection_ = connection;
  Log(LogLevel::kInfo, 0, "account lookups as {}: the server sees longlink as {}",
      LogQuoted(config_.auth.user), LogQuoted(who));
  co_return longlink::Status();
}

net::Awaitable<AccountLookup> AccountDirectory::Query(const std::string& user) {
  const AccountLookup unavailable{.status = AccountLookup::Status::kUnavailable};
  const std::string names = "(" + HexLiteral(user) + ", '')";
  std::optional<protocol::ErrPacket> refused;
  Result<std::vector<pool::Row>> rows = Error{""};
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!connection_) {
      auto connected = co_await Connect();
      if (!connected.ok()) {
        AccountLookup failed = unavailable;
        failed.error = connected.error().message;
        co_return failed;
      }
    }
    // The server is known once connected.
    const std::string query =
        mariadb_ ? "SELECT User, Host, Priv, UNIX_TIMESTAMP(), @@global.default_password_lifetime "
                   "FROM mysql.global_priv WHERE User IN " +
                       names
                 : "SELECT User, Host, plugin, authentication_string, account_locked, "
                   "password_expired, UNIX_TIMESTAMP(password_last_changed), password_lifetime, "
                   "max_user_connections, UNIX_TIMESTAMP(), @@global.default_password_lifetime "
                   "FROM mysql.user WHERE User IN " +
                       names;
    const std::shared_ptr<pool::BackendConnection> connection = connection_;
    {
      net::Deadline deadline(connection->stream().lowest_layer(), config_.backend.connect_timeout);
      auto read = connection->QueryRows(query, kMaxRows + 1, &refused);
      rows = co_await std::move(read);
      if (!rows.ok() && deadline.expired()) {
        rows = Error{"no answer within " + std::to_string(config_.backend.connect_timeout.count()) +
                     " ms"};
      }
    }
    if (rows.ok()) break;
    connection->stream().Close();
    if (connection_ == connection) connection_.reset();  // Lost: once more on a new one.
  }
  if (!rows.ok()) {
    AccountLookup failed = unavailable;
    failed.error = "lookup connection lost: " + rows.error().message;
    co_return failed;
  }
  if (refused) {
    AccountLookup failed = unavailable;
    failed.error = "the [auth] user " + LogQuoted(config_.auth.user) +
                   " cannot read the accounts (server error " + std::to_string(refused->code) +
                   ": " + refused->message + "); see docs/PROXY.md for the GRANT";
    co_return failed;
  }

  // Every row is read, or the lookup fails: a row left out could be the one the server applies.
  auto unreadable = [&](std::string why) {
    AccountLookup failed = unavailable;
    failed.error = "the accounts of " + LogQuoted(user) + ": " + std::move(why);
    return failed;
  };
  if (rows->size() > kMaxRows) {
    co_return unreadable("more than " + std::to_string(kMaxRows) + " rows");
  }
  std::vector<auth::Account> accounts;
  std::vector<auth::AccountHost> hosts;
  for (const pool::Row& row : *rows) {
    if (mariadb_ && row.size() >= 5) {
      const auth::PrivContext context{.now = Integer(row[3]),
                                      .default_password_lifetime = Integer(row[4])};
      auto account = auth::AccountFromGlobalPriv(Text(row[0]), Text(row[1]), Text(row[2]), context);
      if (!account.ok()) {
        co_return unreadable(LogQuoted(Text(row[0])) + "@" + LogQuoted(Text(row[1])) + ": " +
                             account.error().message);
      }
      if (!*account) continue;  // A role.
      accounts.push_back(std::move(**account));
    } else if (!mariadb_ && row.size() >= 11) {
      // MySQL 8.0.23+ also takes "ip/prefix" hosts, which MariaDB's rules read as text.
      const std::string host = Text(row[1]);
      const auto slash = host.find('/');
      if (slash != std::string::npos && host.find('.', slash) == std::string::npos) {
        co_return unreadable("host pattern " + LogQuoted(host) + " (CIDR) is not supported");
      }
      const auth::PrivContext context{.now = Integer(row[9]),
                                      .default_password_lifetime = Integer(row[10])};
      accounts.push_back(auth::AccountFromMysqlUser(
          auth::MysqlUserRow{.user = Text(row[0]),
                             .host = Text(row[1]),
                             .plugin = Text(row[2]),
                             .auth_string = Text(row[3]),
                             .locked = Text(row[4]) == "Y",
                             .password_expired = Text(row[5]) == "Y",
                             .password_last_changed = OptionalInteger(row[6]),
                             .password_lifetime = OptionalInteger(row[7]),
                             .max_user_connections = static_cast<std::uint32_t>(Integer(row[8]))},
          context));
    } else {
      co_return unreadable("a row of " + std::to_string(row.size()) + " columns");
    }
  }
  for (const auth::Account& account : accounts) {
    hosts.push_back(auth::AccountHost{.user = account.user, .host = account.host});
  }
  const auto match = auth::MatchAccount(hosts, user, origin_);
  if (!match) co_return Store(user, std::nullopt);
  co_return Store(user, std::move(accounts[*match]));
}

}  // namespace longlink::proxy
