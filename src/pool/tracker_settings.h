// A session's settings of the server's session-state trackers (session_track_state_change,
// session_track_schema, session_track_transaction_info, session_track_system_variables): what
// decides which entries the server puts in its OK packets.
//
// The proxy turns trackers on for its own use on every pooled connection (state changes; in
// transaction pooling all of them, BackendConnection::TrackingStatement); a client session
// starts with the server's global settings, read when the connection is opened, and the relay
// passes on only the entries those settings would give (CommandRelay).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace longlink::pool {

struct TrackerSettings {
  enum class TransactionInfo : std::uint8_t { kOff, kState, kCharacteristics };

  bool state_change = false;
  bool schema = true;
  TransactionInfo transaction_info = TransactionInfo::kOff;
  // As the server shows it: names separated by commas, or "*" for all.
  std::string system_variables =
      "autocommit,character_set_client,character_set_connection,"
      "character_set_results,time_zone";

  // True if a change of variable `name` (lowercase) is reported under these settings.
  bool TracksVariable(std::string_view name) const {
    if (system_variables == "*") return true;
    std::string_view rest = system_variables;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item.size() == name.size()) {
        bool same = true;
        for (std::size_t i = 0; i < item.size() && same; ++i) {
          const char c = item[i];
          same = (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == name[i];
        }
        if (same) return true;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return false;
  }
  friend bool operator==(const TrackerSettings&, const TrackerSettings&) = default;
};

// The server's text for session_track_transaction_info ("OFF", "STATE", "CHARACTERISTICS").
inline TrackerSettings::TransactionInfo ParseTransactionInfo(std::string_view text) {
  if (text == "STATE") return TrackerSettings::TransactionInfo::kState;
  if (text == "CHARACTERISTICS") return TrackerSettings::TransactionInfo::kCharacteristics;
  return TrackerSettings::TransactionInfo::kOff;
}

}  // namespace longlink::pool
