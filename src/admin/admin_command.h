// The admin console's commands: what a query the console received asks for. Case-insensitive,
// whitespace between words free, an optional trailing ';'. docs/ADMIN.md lists them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::admin {

enum class AdminVerb {
  kShowPools,
  kShowClients,
  kShowServers,
  kShowBackends,
  kShowStats,
  kShowTotals,
  kShowQueries,
  kShowConfig,
  kShowVersion,
  kShowHelp,
  kResetQueries,  // RESET QUERIES: empties the digest table.
  // What client libraries and the mariadb CLI send on their own: SET ... (answered OK and
  // ignored), SELECT @@version_comment LIMIT 1 and friends (answered as a server would).
  kSet,
  kSelect,  // `select_items`: each a @@variable or a function a client asks any server for.
  kUnknown,
};

// What a client's SELECT asks for; the console answers each as a server would.
enum class SelectItem {
  kVersionComment,    // @@version_comment
  kVersion,           // @@version, VERSION()
  kDatabase,          // DATABASE(), SCHEMA()
  kUser,              // USER(), CURRENT_USER(), CURRENT_USER
  kConnectionId,      // CONNECTION_ID()
  kCharacterSet,      // @@character_set_client, _connection, _results, _server, _database
  kCollation,         // @@collation_connection, _server, _database
  kMaxAllowedPacket,  // @@max_allowed_packet
};

struct AdminCommand {
  AdminVerb verb = AdminVerb::kUnknown;
  std::optional<std::uint64_t> limit = {};  // SHOW QUERIES LIMIT n; SHOW CLIENTS LIMIT n.
  std::vector<SelectItem> select_items = {};
  std::vector<std::string> select_names = {};  // The items as written (column names).
};

// Parses one statement. Anything not recognised is kUnknown.
AdminCommand ParseAdminCommand(std::string_view text);

}  // namespace longlink::admin
