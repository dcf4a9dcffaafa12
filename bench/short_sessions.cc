// Short sessions per second with libmariadb (the C client PHP's mysqlnd-free builds, Python's
// mysqlclient and the mariadb CLI use): THREADS threads each connect, run SELECT 1, read the
// row and quit, for SECONDS; prints the total rate. A C client keeps the client's own cost
// small, so the figure shows what the server (direct) or the proxy costs per session.
//
// Usage: short_sessions [--ssl-ca FILE] (--tcp HOST:PORT | --socket PATH) THREADS SECONDS
// --ssl-ca: every session asks for TLS (MYSQL_OPT_SSL_ENFORCE: no plain fallback) and verifies
// the server's certificate against FILE, host name included (MYSQL_OPT_SSL_VERIFY_SERVER_CERT);
// a session that cannot have TLS fails. Without it, sessions are plain (libmariadb asks for
// TLS only when told to).
#include <mysql.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "target.h"

namespace {

// `ssl_ca` empty: plain.
bool OneSession(const bench::Target& target, const std::string& ssl_ca) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) return false;
  if (!ssl_ca.empty()) {
    mysql_ssl_set(mysql, nullptr, nullptr, ssl_ca.c_str(), nullptr, nullptr);
    const my_bool on = 1;
    mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
  }
  bool ok = bench::LogIn(mysql, target);
  if (ok) ok = mysql_query(mysql, "SELECT 1") == 0;
  if (ok) {
    MYSQL_RES* result = mysql_store_result(mysql);
    ok = result != nullptr && mysql_fetch_row(result) != nullptr;
    if (result != nullptr) mysql_free_result(result);
  }
  if (!ok) std::fprintf(stderr, "session failed: %s\n", mysql_error(mysql));
  mysql_close(mysql);
  return ok;
}

int Usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--ssl-ca FILE] (--tcp HOST:PORT | --socket PATH) THREADS SECONDS\n",
               program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const char* program = argv[0];
  std::string ssl_ca;
  if (argc == 7 && std::string(argv[1]) == "--ssl-ca") {
    ssl_ca = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc != 5) return Usage(program);
  const std::optional<bench::Target> target = bench::ParseTarget(argv[1], argv[2]);
  if (!target) return Usage(program);
  const int threads = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  mysql_library_init(0, nullptr, nullptr);
  std::atomic<long> sessions{0};
  std::atomic<long> failures{0};
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds));
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      mysql_thread_init();
      while (std::chrono::steady_clock::now() < deadline) {
        if (OneSession(*target, ssl_ca)) {
          sessions.fetch_add(1, std::memory_order_relaxed);
        } else if (failures.fetch_add(1) > 100) {
          break;
        }
      }
      mysql_thread_end();
    });
  }
  for (auto& worker : workers) worker.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  mysql_library_end();
  if (failures.load() > 0) std::fprintf(stderr, "%ld sessions failed\n", failures.load());
  std::printf("%.0f\n", static_cast<double>(sessions.load()) / elapsed);
  return failures.load() > 100 ? 1 : 0;
}
