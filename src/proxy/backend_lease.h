// A client session's hold on one backend connection of its pool: acquire, release, pin,
// replay.
//
// Acquire checks a connection out of the session's pool (Pools::Acquire) and Release gives it
// back reset, or closes it when its state is unknown or not the pool key's (COM_SET_OPTION).
// Pinned: the session's state (SessionState) ties it to this very connection; an unpinned
// session may move to another connection of the pool with its schema and SET statements
// replayed. In session pooling a session keeps its connection until it ends, and moves only
// when the connection dies while the client is idle (Lose, then Replace before the next
// command); a pinned session cannot move, and its client is closed. In transaction pooling
// the session gives the connection back after each transaction as it is (ReleaseKept), and
// the next checkout restores the session's state (session_restore.h).
//
// Single-threaded: used on the session's worker only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "auth/login_secret.h"
#include "pool/backend_connection.h"
#include "pool/pool.h"
#include "protocol/packets.h"
#include "proxy/session_state.h"

namespace longlink::proxy {

class BackendLease {
 public:
  // `timeout`: how long a reset of the proxy's own may take (backend.connect_timeout).
  BackendLease(pool::Pools& pools, std::uint64_t session, std::chrono::milliseconds timeout);
  // Closes a connection still held: its state is unknown.
  ~BackendLease();
  BackendLease(const BackendLease&) = delete;
  BackendLease& operator=(const BackendLease&) = delete;

  bool held() const { return connection_ != nullptr; }
  // REQUIRES: held().
  pool::BackendConnection& connection() { return *connection_; }
  const pool::BackendConnection& connection() const { return *connection_; }
  pool::BackendConnection* operator->() { return connection_.get(); }
  const pool::BackendConnection* operator->() const { return connection_.get(); }
  // The held connection's thread id (CONNECTION_ID() on it), or 0.
  std::uint32_t thread_id() const { return connection_ ? connection_->state().thread_id : 0; }
  // Counts acquisitions: with the thread id it names the connection a KILL saw.
  std::uint32_t generation() const { return generation_; }
  // When the held connection was acquired.
  pool::Clock::time_point acquired_at() const { return acquired_at_; }

  // Checks out a connection of `key` (opened with `secret` if a new one is needed); a loss
  // is forgotten. On failure, the ERR for the client (and a loss is still remembered).
  // `prefer`: Pools::Acquire's (a fingerprint of the session's state, transaction pooling).
  net::Awaitable<std::optional<protocol::ErrPacket>> Acquire(asio::any_io_executor executor,
                                                             pool::PoolKey key,
                                                             const auth::LoginSecret& secret,
                                                             std::uint64_t prefer = 0);
  // Gives the connection back to its pool, or closes it if `clean` is false or the session
  // changed its options (COM_SET_OPTION). No-op if none is held. `reset_now`: the session left
  // something on the server that must not wait for the next client (a transaction, a lock, a
  // temporary table, its own wait_timeout), so the pool resets it before it is idle, a round
  // trip; otherwise it goes back as it is and the next lease resets it with its first command
  // (reset_due). Transaction pooling always resets here (its pools know each idle
  // connection's state).
  net::Awaitable<void> Release(bool clean, bool reset_now);
  // Transaction pooling: gives the connection back to its pool as it is (no reset). If
  // `synced`, the session's state was restored on it (or the session started on it), and its
  // BackendState takes `state`'s variables, schema and LAST_INSERT_ID(); else its own stay.
  // Closed instead if not reusable. REQUIRES: state.movable(), held().
  void ReleaseKept(const SessionState& state, bool synced);
  // Closes the held connection (its state is unknown). No-op if none is held.
  void Discard();
  // The session left something on the connection that a reset does not clear (COM_SET_OPTION
  // changes what the pool key fixes; the profiling history outlives COM_RESET_CONNECTION and
  // COM_CHANGE_USER; the client learnt its thread id, which it may KILL later): the
  // connection is closed when released, never handed to another client.
  void MarkNotReusable() { reusable_ = false; }

  // The session on the held connection still has to be reset: it served another client (or
  // sat in the pool) since the last reset, so its session variables are the globals of then.
  // The reset goes with the client's first command (CommandRelay::ResetFirst) or with the
  // login's schema change; a connection opened for this lease needs none.
  bool reset_due() const { return reset_due_; }
  void ResetDone() { reset_due_ = false; }

  // Whether `state`, with the held connection's last status flags, pins the session to it.
  bool pinned(const SessionState& state) const;

  // The held connection died while the client was idle: closes it and remembers what a
  // replacement must restore (its schema) and whether the session was pinned (then it
  // cannot be replaced; the client gets `server_error`, what the server sent as it ended the
  // connection, or an ERR 1927 that says why). `held_by`: what else ties the session to it (a
  // prepared statement's cursor or long data).
  void Lose(const SessionState& state, std::optional<protocol::ErrPacket> server_error,
            PinReason held_by = PinReason::kNone);
  // True between Lose and a Replace or Acquire.
  bool lost() const { return lost_ != nullptr; }
  bool lost_pinned() const { return lost_ && lost_->pinned; }
  // After a failed COM_CHANGE_USER reset the session: nothing of the old state is left.
  void UnpinLost();
  // The session ends without a replacement.
  void ForgetLoss() { lost_.reset(); }

  // REQUIRES: lost(). A fresh connection of `key` with the lost one's schema and `state`'s
  // SET statements replayed; or the ERR for the client, with `*fatal` set if the session
  // cannot go on (it was pinned, or `reads_previous`: the command reads what the lost
  // connection's last statement left).
  net::Awaitable<std::optional<protocol::ErrPacket>> Replace(asio::any_io_executor executor,
                                                             pool::PoolKey key,
                                                             const auth::LoginSecret& secret,
                                                             const SessionState& state,
                                                             bool reads_previous, bool* fatal);

 private:
  struct LostConnection {
    bool pinned = false;
    std::string schema = {};
    std::string reason = {};  // Why it was pinned.
    std::optional<protocol::ErrPacket> server_error = {};
  };

  pool::Pools& pools_;
  const std::uint64_t session_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<pool::BackendConnection> connection_;
  std::uint32_t generation_ = 0;
  pool::Clock::time_point acquired_at_ = {};
  bool reusable_ = true;
  bool reset_due_ = false;
  // Rare, so it is held apart (idle sessions are many).
  std::unique_ptr<LostConnection> lost_;
};

}  // namespace longlink::proxy
