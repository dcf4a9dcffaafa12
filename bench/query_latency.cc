// A persistent connection's query latency with libmariadb, for the two-host benchmark
// (bench/two_host.sh): one connection (user app, password app-secret, database app) runs
// `SELECT 1` back to back (text protocol: mysql_query, mysql_store_result, mysql_fetch_row),
// 200 queries of warm-up first, then for SECONDS, each query timed from sending it to reading
// its row. Prints one line of key=value pairs, the rate last (so that bench/lib.sh's `measure`,
// which takes a client's last number as its rate, reads queries per second):
//   queries=N mean_us=M p50_us=A p99_us=B max_us=C qps=R
// Exit status: 0; 1 if the connection or a query failed; 2 for usage.
//
// Usage: query_latency (--tcp HOST:PORT | --socket PATH) SECONDS
#include <mysql.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "target.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWarmUp = 200;

bool Query(MYSQL* mysql) {
  if (mysql_query(mysql, "SELECT 1") != 0) return false;
  MYSQL_RES* result = mysql_store_result(mysql);
  const bool ok = result != nullptr && mysql_fetch_row(result) != nullptr;
  if (result != nullptr) mysql_free_result(result);
  return ok;
}

// The value at fraction q of sorted `values` (nearest rank).
double Percentile(const std::vector<double>& values, double q) {
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(values.size()));
  return values[std::min(rank, values.size() - 1)];
}

int Usage(const char* program) {
  std::fprintf(stderr, "usage: %s (--tcp HOST:PORT | --socket PATH) SECONDS\n", program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return Usage(argv[0]);
  const std::optional<bench::Target> target = bench::ParseTarget(argv[1], argv[2]);
  if (!target) return Usage(argv[0]);
  const double seconds = std::atof(argv[3]);
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr || !bench::LogIn(mysql, *target)) {
    std::fprintf(stderr, "query_latency: connect: %s\n",
                 mysql == nullptr ? "out of memory" : mysql_error(mysql));
    return 1;
  }
  for (int i = 0; i < kWarmUp; ++i) {
    if (!Query(mysql)) {
      std::fprintf(stderr, "query_latency: %s\n", mysql_error(mysql));
      return 1;
    }
  }
  std::vector<double> latencies_us;
  latencies_us.reserve(1 << 16);
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto now = start;
  while (now < deadline) {
    const auto begin = now;
    if (!Query(mysql)) {
      std::fprintf(stderr, "query_latency: %s\n", mysql_error(mysql));
      return 1;
    }
    now = Clock::now();
    latencies_us.push_back(std::chrono::duration<double, std::micro>(now - begin).count());
  }
  mysql_close(mysql);
  if (latencies_us.empty()) return 1;
  const double elapsed = std::chrono::duration<double>(now - start).count();
  double sum = 0;
  for (double latency : latencies_us) sum += latency;
  const double mean = sum / static_cast<double>(latencies_us.size());
  std::sort(latencies_us.begin(), latencies_us.end());
  std::printf("queries=%zu mean_us=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f qps=%.0f\n",
              latencies_us.size(), mean, Percentile(latencies_us, 0.50),
              Percentile(latencies_us, 0.99), latencies_us.back(),
              static_cast<double>(latencies_us.size()) / elapsed);
  return 0;
}
