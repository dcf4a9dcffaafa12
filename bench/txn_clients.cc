// Many mostly idle clients running short transactions, for the transaction pooling benchmark
// (bench/txn_pool.sh): opens CLIENTS libmariadb connections one after another (all must log
// in), prints "connected CLIENTS", then gives each its own thread (256 KiB stack) that loops:
// think for a uniformly random MIN..MAX ms (the first pause 0..MAX ms, so that the clients
// spread out), then one transaction on a random row of app.accounts (ids 1..ROWS, made by the
// script):
//   BEGIN; SELECT v FROM app.accounts WHERE id = N; UPDATE app.accounts SET v = v + 1 WHERE
//   id = N; COMMIT
// as four text queries (no prepared statements: they would pin a transaction-pooled session).
// A transaction's latency runs from sending BEGIN to reading COMMIT's answer. After a warm-up
// of 2 s (all clients connected and thinking) it prints "measuring until T" (T: the window's
// end in seconds since the epoch, so that a script need not trust when it read the line),
// counts the transactions that begin in the next SECONDS, then prints one line:
//   clients C transactions N tps R p50_ms A p99_ms B p999_ms C max_ms D errors E lost L
// Percentiles are of the measured transactions. Errors (a failed query, a missing row, an
// UPDATE that changed no row) count over the whole run, warm-up included; the first 10 go to
// stderr. After an error the client rolls back, or reconnects if its connection is gone; a
// client that cannot reconnect is lost (counted, its thread ends).
// --hold: after that line, waits for end of file on stdin before it closes its connections and
// exits, its threads kept until then (so that a script can still read its /proc entries, every
// thread's included, however late).
// Exit status: 0; 1 if a connection failed (at the start, or a lost client); 2 for usage.
//
// Usage: txn_clients [--think MIN_MS MAX_MS] [--rows N] [--hold]
//                    (--tcp HOST:PORT | --socket PATH) CLIENTS SECONDS
#include <errmsg.h>
#include <mysql.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "target.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kErrorsShown = 10;
constexpr std::size_t kStackSize = 256 * 1024;
constexpr auto kWarmUp = std::chrono::seconds(2);

struct Options {
  bench::Target target;
  int clients = 0;
  double seconds = 0;
  int think_min_ms = 500;
  int think_max_ms = 1000;
  int rows = 10000;
  bool hold = false;
};

std::atomic<long> errors{0};
std::atomic<int> lost{0};
std::mutex stderr_mutex;

// Threads past the window: counted, then (--hold) kept until released.
std::mutex window_mutex;
std::condition_variable window_changed;
int threads_done = 0;
bool released = false;

// Counts an error; prints the first few.
void Report(int client, const char* what, const char* detail) {
  if (errors.fetch_add(1) < kErrorsShown) {
    std::lock_guard lock(stderr_mutex);
    std::fprintf(stderr, "txn_clients: client %d: %s: %s\n", client, what, detail);
  }
}

// A logged-in connection, or nullptr with the error in `error`.
MYSQL* Connect(const bench::Target& target, std::string& error) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) {
    error = "mysql_init: out of memory";
    return nullptr;
  }
  const unsigned connect_timeout = 10;
  const unsigned io_timeout = 30;  // A stalled server or proxy fails the client, not hangs it.
  mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  if (!bench::LogIn(mysql, target)) {
    error = std::string(mysql_error(mysql)) + " (" + std::to_string(mysql_errno(mysql)) + ")";
    mysql_close(mysql);
    return nullptr;
  }
  return mysql;
}

struct Client {
  int index = 0;
  MYSQL* mysql = nullptr;
  const Options* options = nullptr;
  Clock::time_point measure_from;
  Clock::time_point measure_to;
  std::vector<double> latencies_us;  // Of the transactions begun in the window.
};

// Runs one query; on failure reports it and returns false.
bool Query(Client& client, const char* sql) {
  if (mysql_query(client.mysql, sql) == 0) return true;
  const std::string detail = std::string(mysql_error(client.mysql)) + " (" +
                             std::to_string(mysql_errno(client.mysql)) + ")";
  Report(client.index, sql, detail.c_str());
  return false;
}

bool Transaction(Client& client, int id) {
  char select[96];
  char update[96];
  std::snprintf(select, sizeof select, "SELECT v FROM app.accounts WHERE id = %d", id);
  std::snprintf(update, sizeof update, "UPDATE app.accounts SET v = v + 1 WHERE id = %d", id);
  if (!Query(client, "BEGIN") || !Query(client, select)) return false;
  MYSQL_RES* result = mysql_store_result(client.mysql);
  if (result == nullptr) {
    Report(client.index, select, mysql_error(client.mysql));
    return false;
  }
  const bool found = mysql_fetch_row(result) != nullptr;
  mysql_free_result(result);
  if (!found) {
    Report(client.index, select, "no row");
    return false;
  }
  if (!Query(client, update)) return false;
  if (mysql_affected_rows(client.mysql) != 1) {
    Report(client.index, update, "changed no row");
    return false;
  }
  return Query(client, "COMMIT");
}

// After a failed transaction: roll back, or reconnect if the connection is gone. False if the
// client is lost.
bool Recover(Client& client) {
  const unsigned code = mysql_errno(client.mysql);
  if (code < CR_MIN_ERROR && mysql_query(client.mysql, "ROLLBACK") == 0) return true;
  mysql_close(client.mysql);
  std::string error;
  client.mysql = Connect(client.options->target, error);
  if (client.mysql != nullptr) return true;
  lost.fetch_add(1);
  Report(client.index, "reconnect", error.c_str());
  return false;
}

void* Run(void* argument) {
  Client& client = *static_cast<Client*>(argument);
  const Options& options = *client.options;
  mysql_thread_init();
  std::mt19937 random(static_cast<unsigned>(client.index) * 7919u + 1);
  std::uniform_int_distribution<int> first_pause(0, options.think_max_ms);
  std::uniform_int_distribution<int> think(options.think_min_ms, options.think_max_ms);
  std::uniform_int_distribution<int> row(1, options.rows);
  auto next = Clock::now() + std::chrono::milliseconds(first_pause(random));
  for (;;) {
    if (next >= client.measure_to) {
      // Lives to the window's end (and, with --hold, until released), so that the script's
      // readings of its threads all count.
      std::this_thread::sleep_until(client.measure_to);
      break;
    }
    std::this_thread::sleep_until(next);
    const auto begin = Clock::now();
    if (Transaction(client, row(random))) {
      const auto end = Clock::now();
      if (begin >= client.measure_from && begin < client.measure_to) {
        client.latencies_us.push_back(
            std::chrono::duration<double, std::micro>(end - begin).count());
      }
    } else if (!Recover(client)) {
      break;
    }
    next = Clock::now() + std::chrono::milliseconds(think(random));
  }
  mysql_thread_end();
  std::unique_lock lock(window_mutex);
  ++threads_done;
  window_changed.notify_all();
  window_changed.wait(lock, [] { return released; });
  return nullptr;
}

// The nearest-rank percentile P (0..1) of sorted values, in milliseconds.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1] / 1000;
}

int Usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--think MIN_MS MAX_MS] [--rows N] [--hold] (--tcp HOST:PORT | "
               "--socket PATH) CLIENTS SECONDS\n",
               program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    if (args[i] == "--think" && i + 2 < args.size()) {
      options.think_min_ms = std::atoi(args[i + 1].c_str());
      options.think_max_ms = std::atoi(args[i + 2].c_str());
      i += 2;
    } else if (args[i] == "--hold") {
      options.hold = true;
    } else if (args[i] == "--rows" && i + 1 < args.size()) {
      options.rows = std::atoi(args[++i].c_str());
    } else if ((args[i] == "--tcp" || args[i] == "--socket") && i + 1 < args.size()) {
      const std::optional<bench::Target> target = bench::ParseTarget(args[i], args[i + 1]);
      if (!target) return Usage(argv[0]);
      options.target = *target;
      i += 2;
      break;
    } else {
      return Usage(argv[0]);
    }
  }
  if (args.size() - i != 2) return Usage(argv[0]);
  options.clients = std::atoi(args[i].c_str());
  options.seconds = std::atof(args[i + 1].c_str());
  if (options.clients < 1 || options.seconds <= 0 || options.rows < 1 || options.think_min_ms < 0 ||
      options.think_max_ms < options.think_min_ms) {
    return Usage(argv[0]);
  }

  mysql_library_init(0, nullptr, nullptr);
  std::vector<Client> clients(static_cast<std::size_t>(options.clients));
  int failed = 0;
  for (int c = 0; c < options.clients; ++c) {
    Client& client = clients[static_cast<std::size_t>(c)];
    std::string error;
    client.index = c;
    client.options = &options;
    client.mysql = Connect(options.target, error);
    if (client.mysql == nullptr && ++failed <= kErrorsShown) {
      std::fprintf(stderr, "txn_clients: connection %d of %d failed: %s\n", c + 1, options.clients,
                   error.c_str());
    }
  }
  if (failed > 0) {
    std::fprintf(stderr, "txn_clients: %d of %d connections failed\n", failed, options.clients);
    for (Client& client : clients) {
      if (client.mysql != nullptr) mysql_close(client.mysql);
    }
    return 1;
  }
  std::printf("connected %d\n", options.clients);
  std::fflush(stdout);

  const auto start = Clock::now();
  const auto measure_from = start + kWarmUp;
  const auto measure_to = measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.seconds));
  released = !options.hold;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStackSize);
  std::vector<pthread_t> threads;
  threads.reserve(clients.size());
  for (Client& client : clients) {
    client.measure_from = measure_from;
    client.measure_to = measure_to;
    pthread_t thread;
    const int error = pthread_create(&thread, &attr, Run, &client);
    if (error != 0) {
      std::fprintf(stderr, "txn_clients: thread %zu of %d: %s\n", threads.size() + 1,
                   options.clients, std::strerror(error));
      std::_Exit(1);
    }
    threads.push_back(thread);
  }
  pthread_attr_destroy(&attr);
  const auto wall_end =
      std::chrono::system_clock::now() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(measure_to - Clock::now());
  std::this_thread::sleep_until(measure_from);
  std::printf("measuring until %.3f\n",
              std::chrono::duration<double>(wall_end.time_since_epoch()).count());
  std::fflush(stdout);
  {
    std::unique_lock lock(window_mutex);
    window_changed.wait(lock, [&] { return threads_done == static_cast<int>(threads.size()); });
  }

  std::vector<double> latencies;
  for (Client& client : clients) {
    latencies.insert(latencies.end(), client.latencies_us.begin(), client.latencies_us.end());
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf(
      "clients %d transactions %zu tps %.1f p50_ms %.3f p99_ms %.3f p999_ms %.3f max_ms %.3f "
      "errors %ld lost %d\n",
      options.clients, latencies.size(), static_cast<double>(latencies.size()) / options.seconds,
      Percentile(latencies, 0.50), Percentile(latencies, 0.99), Percentile(latencies, 0.999),
      latencies.empty() ? 0.0 : latencies.back() / 1000, errors.load(), lost.load());
  std::fflush(stdout);
  if (options.hold) {
    while (std::getchar() != EOF) {
    }
  }
  {
    std::lock_guard lock(window_mutex);
    released = true;
  }
  window_changed.notify_all();
  for (pthread_t thread : threads) pthread_join(thread, nullptr);
  for (Client& client : clients) {
    if (client.mysql != nullptr) mysql_close(client.mysql);
  }
  mysql_library_end();
  if (lost.load() > 0) {
    std::fprintf(stderr, "txn_clients: %d clients lost their connection for good\n", lost.load());
    return 1;
  }
  return 0;
}
