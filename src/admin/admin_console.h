// The admin console (docs/ADMIN.md): a MySQL-protocol listener of its own ([admin]
// unix_socket, tcp) where operators and scripts read what the proxy does with SHOW commands,
// from the mariadb CLI or any driver. Its accounts are [admin] users only: a data-listener
// account cannot log in here, and the data listeners know no admin command (they relay
// everything to the server).
//
// Login: an [admin] user by password (mysql_native_password, or caching_sha2_password's
// fast path for clients that start with it); or, on the Unix socket with unix_socket_auth,
// root and the proxy's own OS user as themselves without a password (the peer's credentials,
// as MariaDB's unix_socket plugin). Everything else gets 1045 Access denied, after the same
// exchange as a wrong password.
//
// The console runs on one worker's loop (its sessions and the periodic stats sample); its
// commands read snapshots (admin::TakeSnapshot, WorkerSessions::Collect), never blocking the
// data path.
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/admin_tables.h"
#include "auth/account.h"
#include "net/io_buffer.h"
#include "net/socket.h"
#include "proxy/proxy_context.h"

namespace longlink::admin {

// An [admin] user as the console checks it.
struct AdminAccount {
  std::string name;
  std::vector<auth::AccountCredential> credentials;
  std::optional<std::string> password;  // When the config gives it in clear.
};

class AdminConsole {
 public:
  // How often SHOW STATS' rates are sampled (rates are over the last full period).
  static constexpr std::chrono::seconds kStatsPeriod{15};

  explicit AdminConsole(proxy::ProxyContext& context);

  // Starts the periodic stats sample on `executor` (the loop the console's sessions run on).
  void Start(asio::any_io_executor executor);
  // Accepts admin clients on `acceptor` until it is closed; each session runs on the
  // acceptor's loop. `buffers`: that loop's buffer pool.
  net::Awaitable<void> AcceptLoop(net::Acceptor& acceptor, net::BufferPool& buffers);

  proxy::ProxyContext& context() { return context_; }
  const AdminAccount* FindAccount(const std::string& name) const;
  // The snapshot SHOW STATS computes rates from: the one taken a full period ago.
  const std::optional<RateBase>& rate_base() const { return rate_base_; }

 private:
  net::Awaitable<void> SampleStats();

  proxy::ProxyContext& context_;
  std::vector<AdminAccount> accounts_;
  std::optional<RateBase> rate_base_;  // On the console's loop only.
  std::optional<RateBase> latest_;
};

}  // namespace longlink::admin
