// Idle clients for the memory benchmark (bench/proxy.sh): opens COUNT libmariadb connections
// (each logged in, one SELECT 1 answered so that a backend serves it), prints "connected
// COUNT" on stdout, holds them until stdin reaches end of file, then closes them all.
//
// Usage: idle_clients (--tcp HOST:PORT | --socket PATH) COUNT
#include <mysql.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "target.h"

namespace {

int Usage(const char* program) {
  std::fprintf(stderr, "usage: %s (--tcp HOST:PORT | --socket PATH) COUNT\n", program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return Usage(argv[0]);
  const std::optional<bench::Target> target = bench::ParseTarget(argv[1], argv[2]);
  if (!target) return Usage(argv[0]);
  const int count = std::atoi(argv[3]);
  std::vector<MYSQL*> connections;
  connections.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    MYSQL* mysql = mysql_init(nullptr);
    if (mysql == nullptr || !bench::LogIn(mysql, *target) || mysql_query(mysql, "SELECT 1") != 0) {
      std::fprintf(stderr, "connection %d failed: %s\n", i,
                   mysql != nullptr ? mysql_error(mysql) : "out of memory");
      return 1;
    }
    mysql_free_result(mysql_store_result(mysql));
    connections.push_back(mysql);
  }
  std::printf("connected %d\n", count);
  std::fflush(stdout);
  while (std::getchar() != EOF) {
  }
  for (MYSQL* mysql : connections) mysql_close(mysql);
  return 0;
}
