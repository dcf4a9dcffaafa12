#include "admin/admin_console.h"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "admin/admin_session.h"
#include "admin/proxy_snapshot.h"
#include "auth/native_password.h"
#include "common/log.h"
#include "common/log_rate_limit.h"

namespace longlink::admin {

AdminConsole::AdminConsole(proxy::ProxyContext& context) : context_(context) {
  for (const config::AdminUser& user : context.config().admin.users) {
    AdminAccount account{.name = user.name, .credentials = {}, .password = user.password};
    auth::AccountCredential credential{.plugin = std::string(auth::server_plugin::kNativePassword)};
    credential.auth_string =
        user.password ? auth::NativePasswordCredential::FromPassword(*user.password).HashString()
                      : user.password_hash.value_or("");
    account.credentials.push_back(std::move(credential));
    accounts_.push_back(std::move(account));
  }
}

const AdminAccount* AdminConsole::FindAccount(const std::string& name) const {
  for (const AdminAccount& account : accounts_) {
    if (account.name == name) return &account;
  }
  return nullptr;
}

void AdminConsole::Start(asio::any_io_executor executor) {
  asio::co_spawn(executor, SampleStats(), [](std::exception_ptr) {});
}

net::Awaitable<void> AdminConsole::SampleStats() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    // The base for rates is the sample a full period old: rates cover at least kStatsPeriod.
    rate_base_ = std::move(latest_);
    latest_ = RateBase{.snapshot = TakeSnapshot(context_), .taken_at = SteadyTime::clock::now()};
    if (!rate_base_) rate_base_ = latest_;
    timer.expires_after(kStatsPeriod);
    auto [error] = co_await timer.async_wait(net::kNoThrow);
    if (error) co_return;
  }
}

net::Awaitable<void> AdminConsole::AcceptLoop(net::Acceptor& acceptor, net::BufferPool& buffers) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(net::kNoThrow);
    if (error) {
      auto failed = net::SurviveAcceptFailure(error, "admin console accept");
      if (!co_await std::move(failed)) co_return;
      continue;
    }
    const std::uint64_t id = context_.NextSessionId();
    auto session = std::make_unique<AdminSession>(*this, std::move(socket), buffers, id);
    AdminSession* const started = session.get();
    asio::co_spawn(acceptor.get_executor(), started->Run(std::move(session)),
                   [id](std::exception_ptr failure) {
                     if (failure) Log(LogLevel::kError, id, "admin session ended by an error");
                   });
  }
}

}  // namespace longlink::admin
