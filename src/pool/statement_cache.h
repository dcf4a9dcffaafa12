// The server-side prepared statements of one backend connection of a transaction pool
// (docs/PROXY.md, "Prepared statements in transaction pooling"): which statement text has
// which server statement id there, so that a client's execute on this connection reuses it
// instead of preparing again. Identical statements of different clients share one entry.
//
// An entry is free, or owned by one client statement while it needs the server statement to
// itself: an open cursor, long data sent for the next execute. Lookups skip entries owned by
// others. Beyond its capacity the least recently used free entry is evicted; its server
// statement is closed by the next command sent on the connection (TakeCloses: COM_STMT_CLOSE
// has no reply, so the closes travel in the same write, for free). A session reset
// (COM_RESET_CONNECTION, COM_CHANGE_USER) closes every server statement: Clear.
//
// The key says what a server statement means: its text, and the schema and parse-relevant
// variables it was prepared under (StatementKey). Not thread-safe: it belongs to its
// connection's BackendState and moves with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace longlink::pool {

struct StatementKeyData {
  std::string text = {};
  // The schema and the parse-relevant session variables it is prepared under, joined.
  std::string context = {};
  std::uint64_t hash = 0;  // Of both (MakeStatementKey).
};
// Shared, immutable: client statements and connection caches point to one copy.
using StatementKey = std::shared_ptr<const StatementKeyData>;

StatementKey MakeStatementKey(std::string text, std::string context);
bool SameStatement(const StatementKeyData& a, const StatementKeyData& b);

class StatementCache {
 public:
  // The server statement id of `key` that `owner` may use: one `owner` holds, else a free one;
  // marks it used. nullopt if there is none.
  std::optional<std::uint32_t> Find(const StatementKeyData& key, std::uint64_t owner);
  // Records server statement `server_id` for `key` (owned by `owner`, 0: free). Beyond
  // `capacity` entries, the least recently used free ones are evicted (their ids queued for
  // TakeCloses); returns how many.
  std::size_t Add(StatementKey key, std::uint32_t server_id, std::uint64_t owner,
                  std::size_t capacity);
  // Before a prepare: evicts the least recently used free entries until one more fits within
  // `capacity` (their closes then go ahead of the prepare); returns how many.
  std::size_t MakeRoom(std::size_t capacity);
  // `server_id` is now owned by `owner` (0: free again).
  void SetOwner(std::uint32_t server_id, std::uint64_t owner);
  // Forgets `server_id` and queues its close (its server state must not serve anyone else).
  void Drop(std::uint32_t server_id);
  // Frees (or, `drop`, drops) every entry `owner` holds.
  void Disown(std::uint64_t owner, bool drop);
  // The ids whose COM_STMT_CLOSE is due, and forgets them.
  std::vector<std::uint32_t> TakeCloses();
  bool closes_due() const { return !closes_.empty(); }
  // The server closed every statement (a reset): forgets all, closes nothing.
  void Clear();
  std::size_t size() const { return entries_.size(); }

 private:
  // Evicts least recently used free entries until at most `keep` are left.
  std::size_t Evict(std::size_t keep);
  struct Entry {
    StatementKey key;
    std::uint32_t server_id = 0;
    std::uint64_t owner = 0;
    std::uint64_t last_used = 0;
  };
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> closes_;
  std::uint64_t clock_ = 0;
};

}  // namespace longlink::pool
