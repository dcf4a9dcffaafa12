// The statements prepared through the proxy, shared by all sessions (transaction pooling;
// docs/PROXY.md, "Prepared statements in transaction pooling"): a client's COM_STMT_PREPARE
// of a statement another client of the same pool prepared under the same schema and parse
// variables is answered from here, with the server's own reply, without a round trip. The
// statement is then prepared where the client's first execute runs, in that execute's write.
//
// Stale metadata: a DDL statement through the proxy (CREATE, ALTER, DROP, RENAME, TRUNCATE,
// GRANT, REVOKE, or any multi-statement query) moves the epoch, and a shape of an older epoch
// is not used: the next prepare goes to the server. DDL the proxy does not see (another client
// of the server) shows at the statement's next execute anywhere: a result that names other
// columns than the shape's, or an error that says a table, column, schema or routine is gone,
// makes the proxy forget the shape (Forget). Until then a prepare may get the metadata of
// before, as a statement prepared just before the DDL would directly; its execute carries the
// server's current metadata either way.
//
// Bounded: kMaxBytes of shapes, least recently added dropped first. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "proxy/client_statements.h"

namespace longlink::proxy {

// A first keyword of DDL that moves the epoch (`keyword` uppercase, as StatementScan has it).
bool IsDdlKeyword(std::string_view keyword);

class StatementShapes {
 public:
  static constexpr std::size_t kMaxBytes = 16 * 1024 * 1024;
  // Replies larger than this are not kept (the prepare goes to the server each time).
  static constexpr std::size_t kMaxReplyBytes = 64 * 1024;

  // The current shape of `key`, or null.
  std::shared_ptr<const StatementShape> Find(const pool::StatementKeyData& key) const;
  // Records `shape` (replacing one of the same key). REQUIRES: !shape->reply.empty().
  void Add(std::shared_ptr<const StatementShape> shape);
  // `shape` proved stale: the next prepare of its statement goes to the server. `any`: an
  // error said an object it names is gone, so whichever shape of its key is kept goes; else
  // (an execute saw other columns than `shape`'s) only `shape` itself, if it is the one kept.
  void Forget(const StatementShape& shape, bool any);
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  // DDL ran: every shape known so far may be stale.
  void Invalidate() { epoch_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  mutable std::mutex mutex_;
  std::list<std::shared_ptr<const StatementShape>> order_;  // Oldest first.
  std::unordered_multimap<std::uint64_t, std::list<std::shared_ptr<const StatementShape>>::iterator>
      by_hash_;
  std::size_t bytes_ = 0;
  std::atomic<std::uint64_t> epoch_{1};
};

}  // namespace longlink::proxy
