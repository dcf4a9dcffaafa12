// Failed logins, counted per user name and client host: what the log line of a refusal says
// ("the 5th failure of 'app' from 10.0.0.7"), and what an operator reads to tell a broken
// deployment from a guessing attack. Bounded: at most kMaxPairs pairs are counted; when full,
// the least recently failed half is forgotten. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace longlink::proxy {

class LoginFailures {
 public:
  static constexpr std::size_t kMaxPairs = 4096;

  // Counts a failure of `user` from `host`; returns how many there have been (this one
  // included) since the pair was first counted.
  std::uint64_t Record(const std::string& user, const std::string& host);
  // The count for the pair (0 if none is kept).
  std::uint64_t Count(const std::string& user, const std::string& host) const;
  // Failures of every pair since start (forgotten pairs included).
  std::uint64_t Total() const;

 private:
  struct Tally {
    std::uint64_t failures = 0;
    std::uint64_t last = 0;  // Sequence number of the last failure.
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Tally> tallies_;
  std::uint64_t sequence_ = 0;
};

}  // namespace longlink::proxy
