// For the net tests that run two ends of a connection on two event loops: RunBoth.
#pragma once

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <exception>
#include <functional>
#include <thread>
#include <utility>

#include "net/socket.h"

namespace longlink::net::testing {

// Runs `a_work` on `a` and `b_work` on `b`, each loop on its own thread, until both end.
inline void RunBoth(asio::io_context& a, std::function<Awaitable<void>()> a_work,
                    asio::io_context& b, std::function<Awaitable<void>()> b_work) {
  auto check = [](std::exception_ptr error) {
    if (error) ADD_FAILURE() << "a coroutine threw";
  };
  asio::co_spawn(a, std::move(a_work), check);
  asio::co_spawn(b, std::move(b_work), check);
  std::thread other([&] { a.run(); });
  b.run();
  other.join();
  a.restart();
  b.restart();
}

}  // namespace longlink::net::testing
