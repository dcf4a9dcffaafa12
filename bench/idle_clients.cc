// Idle clients for the memory benchmark (bench/proxy.sh): opens COUNT libmariadb connections
// (each logged in, one SELECT 1 answered so that a backend serves it), prints "connected
// COUNT" on stdout, holds them until stdin reaches end of file, then closes them all.
//
// Usage: idle_clients (--tcp HOST:PORT | --socket PATH) COUNT
#include <mysql.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s (--tcp HOST:PORT | --socket PATH) COUNT\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::string where = argv[2];
  std::string host;
  unsigned port = 0;
  std::string socket_path;
  if (mode == "--tcp") {
    const auto colon = where.rfind(':');
    host = where.substr(0, colon);
    port = static_cast<unsigned>(std::atoi(where.c_str() + colon + 1));
  } else {
    socket_path = where;
  }
  const int count = std::atoi(argv[3]);
  std::vector<MYSQL*> connections;
  connections.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    MYSQL* mysql = mysql_init(nullptr);
    if (mysql == nullptr ||
        mysql_real_connect(mysql, host.empty() ? nullptr : host.c_str(), "app", "app-secret", "app",
                           port, socket_path.empty() ? nullptr : socket_path.c_str(),
                           0) == nullptr ||
        mysql_query(mysql, "SELECT 1") != 0) {
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
