// What makes two backend connections interchangeable: the user they are logged in as, every
// client capability that changes packet layout or server semantics, and the character set
// (collation) of the handshake. A client gets a backend connection of its own key only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "protocol/constants.h"

namespace longlink::pool {

namespace key_capability {
using protocol::Capabilities;
namespace cap = protocol::capability;
// Client capabilities copied to the backend and kept in the key: they change what the server
// does (FOUND_ROWS, IGNORE_SPACE, INTERACTIVE, MULTI_STATEMENTS, LOCAL_FILES, NO_SCHEMA) or the
// bytes of results (DEPRECATE_EOF, LONG_FLAG, MULTI_RESULTS, PS_MULTI_RESULTS, MariaDB's
// EXTENDED_METADATA).
inline constexpr Capabilities kMask =
    cap::kFoundRows | cap::kLongFlag | cap::kNoSchema | cap::kLocalFiles | cap::kIgnoreSpace |
    cap::kInteractive | cap::kMultiStatements | cap::kMultiResults | cap::kPsMultiResults |
    cap::kDeprecateEof | cap::kMariadbExtendedMetadata;
}  // namespace key_capability

struct PoolKey {
  std::string user = {};
  protocol::Capabilities capabilities = 0;  // Only bits of key_capability::kMask.
  std::uint8_t collation = 0;               // The handshake's character set (collation id).
  // The account's password has expired: the server decides at each login whether the client
  // gets a sandboxed session or ER_MUST_CHANGE_PASSWORD_LOGIN, so each client gets a
  // connection logged in for it (with its CAN_HANDLE_EXPIRED_PASSWORDS bit, kept in
  // `capabilities`), never one opened before, and none is pooled after.
  bool expired_password = false;
  // The pool serves transactions, not sessions (docs/PROXY.md, "Transaction pooling"): its
  // connections track every session variable, the schema and the transaction state, and
  // pass from client to client between transactions.
  bool transaction_pooling = false;
  friend bool operator==(const PoolKey&, const PoolKey&) = default;
  // "app/utf8mb4(45)/caps=0x1a0002" for logs.
  std::string ToString() const;
};

// True if a connection of `from` can serve `to` after COM_CHANGE_USER with `to`'s collation:
// the same user and capabilities (those are fixed at login), another collation.
inline bool CanMoveTo(const PoolKey& from, const PoolKey& to) {
  return from.user == to.user && from.capabilities == to.capabilities &&
         from.expired_password == to.expired_password &&
         from.transaction_pooling == to.transaction_pooling && from.collation != to.collation;
}

struct PoolKeyHash {
  std::size_t operator()(const PoolKey& key) const {
    std::size_t h = std::hash<std::string>()(key.user);
    h ^= std::hash<std::uint64_t>()(key.capabilities) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<std::uint8_t>()(key.collation) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= static_cast<std::size_t>(key.expired_password);
    h ^= static_cast<std::size_t>(key.transaction_pooling) << 1;
    return h;
  }
};

}  // namespace longlink::pool
