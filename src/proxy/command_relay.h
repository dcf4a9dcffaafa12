// One command's trip through the proxy: the client's packet streamed to the backend chunk by
// chunk, and the backend's reply streamed back until the response ends (ResponseTracker
// decides where: an OK or ERR, the end of a result set or of the last of several, a prepare's
// definitions, a cursor's first reply). While a command runs the relay owns the backend's
// I/O; it reports how the command ended and, for a reply that ended with ERR, its code.
//
// What passes through unchanged: every byte of a result, and the sequence ids (a command
// starts at 0 on both hops, the reply continues from there). What the proxy adapts: an OK
// packet whose form depends on capabilities the client lacks (session-state info for a client
// without CLIENT_SESSION_TRACK) or that carries entries of the proxy's own trackers
// (SessionTrackingView); every OK also tells SessionState what changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/io_buffer.h"
#include "pool/backend_connection.h"
#include "protocol/response.h"
#include "protocol/session_track.h"
#include "proxy/client_channel.h"
#include "proxy/session_state.h"

namespace longlink::proxy {

enum class Outcome {
  kOk,
  kClientGone,    // The client closed or reset; anything sent after is lost.
  kBackendGone,   // The backend connection failed.
  kClientError,   // The client broke the protocol; an ERR was sent (or not possible).
  kBackendError,  // The backend broke the protocol, or its state is unknown.
};

class CommandRelay {
 public:
  // `max_client_packet`: the largest client packet accepted (max_allowed_packet).
  CommandRelay(ClientChannel& client, pool::BackendConnection& backend, net::BufferPool& buffers,
               SessionState& state, std::uint64_t session, std::size_t max_client_packet);
  ~CommandRelay();
  CommandRelay(const CommandRelay&) = delete;
  CommandRelay& operator=(const CommandRelay&) = delete;

  // The client did not turn the state-change tracker on (the proxy did, for its own use):
  // its entries, and the SESSION_STATE_CHANGED flag where nothing else is left, are taken out
  // of the OK packets this client gets, so that they are what the server would send it.
  void HideStateChangeTracking() { hide_state_change_ = true; }
  // Transaction pooling: the backend tracks everything (TrackingStatement); the client gets
  // only the entries `client`'s tracker settings give (its session's, as the server's globals
  // set them), and SESSION_STATE_CHANGED only if any is left. `client` outlives the relay.
  void FilterTracking(const pool::TrackerSettings* client) { client_tracking_ = client; }
  // Before the command: resets the backend's session (BackendConnection::ResetRequest) in
  // the same write as the command, and reads the reset's replies before the command's. The
  // command cannot tell: it runs on a session fresh from the handshake, with the globals of
  // now (a SET GLOBAL since the connection was last reset is seen).
  void ResetFirst();
  // Before the command: `commands` (framed, each from sequence id 0; a RestorePlan, the
  // LAST_INSERT_ID() query) go in the same write, and their `replies` (OK or ERR each) are
  // read and dropped before the command's. An OK that reports last_insert_id tells
  // SessionState (LearnLastInsertId); an ERR is kept in prepended_error().
  void Prepend(protocol::ByteView commands, int replies);
  // Before the command: a COM_STMT_PREPARE (framed from sequence id 0), in the same write; its
  // reply is read and dropped before the command's, and kept in prepended_prepares().
  void PrependPrepare(protocol::ByteView command);
  // What the server answered to each PrependPrepare, in order: the statement id, or its ERR.
  struct PrependedPrepare {
    std::optional<std::uint32_t> statement = {};
    std::optional<protocol::ErrPacket> error = {};
  };
  const std::vector<PrependedPrepare>& prepended_prepares() const { return prepended_prepares_; }
  // If the last PrependPrepare failed and the command's reply is an ERR, the client gets the
  // prepare's ERR in its place (the command that names the statement then fails with
  // "Unknown prepared statement handler", but what the client meets is the prepare's error).
  void ReplaceErrorWithFailedPrepare() { replace_with_prepare_error_ = true; }
  // A COM_STMT_PREPARE's reply: the client sees statement id `id` in the PREPARE_OK, and the
  // reply's payloads (as the server sent them) are kept in `capture` unless they pass `limit`
  // bytes (then `capture` is left empty).
  void ExposePreparedAs(std::uint32_t id, std::vector<protocol::Bytes>* capture,
                        std::size_t limit) {
    exposed_id_ = id;
    capture_ = capture;
    capture_limit_ = limit;
  }
  // ColumnIdentity of each column definition of the reply's first result go to `names`.
  void CaptureColumns(std::vector<std::string>* names) { column_names_ = names; }
  // A COM_STMT_EXECUTE of a statement the client last saw with `columns` columns: the reply's
  // SERVER_STATUS_METADATA_CHANGED says whether its result has another number of columns (as
  // the server's does for a statement it re-prepared), whatever this connection's server
  // statement knew.
  void FollowMetadata(std::uint16_t columns) { known_columns_ = columns; }
  // Sends only what was prepended and reads its replies (an exchange of the proxy's own: the
  // client sees nothing of it).
  net::Awaitable<Outcome> SendPrepended();
  // The first ERR among the prepended OK/ERR replies, as the server sent it.
  const std::optional<protocol::ErrPacket>& first_prepended_err() const {
    return first_prepended_err_;
  }
  // Sends a command the proxy composed (`framed`, from sequence id 0, whose reply continues
  // with `next_sequence`), after anything prepended, in one write.
  net::Awaitable<Outcome> SendCommand(protocol::ByteView framed, std::uint8_t next_sequence);
  // The first ERR among the prepended commands' replies, if one failed: the command still
  // ran, on a session that is not quite the client's.
  const std::optional<std::string>& prepended_error() const { return prepended_error_; }
  // Forwards the client's command (one logical packet) to the backend as a new command (frame
  // ids start again on a compressed backend); as ForwardClientPacket.
  net::Awaitable<Outcome> ForwardCommand(std::uint8_t* sequence, bool* empty);
  // Forwards one logical client packet (all its chunks) to the backend, streaming; checks its
  // sequence ids from `*sequence` on and advances it. `*empty`: the packet had no payload.
  // A compressed client's packet ids are not checked (under compression neither the server
  // nor libmariadb keeps them): they are renumbered from `*sequence`, as a plain backend
  // expects.
  net::Awaitable<Outcome> ForwardClientPacket(std::uint8_t* sequence, bool* empty);
  // Relays the backend's reply to the command just forwarded; `cursor_requested`: a
  // STMT_EXECUTE that asked for a cursor (ResponseTracker). On kOk the backend's status flags
  // are those the reply ended with, unless it ended with an ERR (error_code()).
  net::Awaitable<Outcome> RelayResponse(protocol::ResponseShape shape,
                                        bool cursor_requested = false);
  // After RelayResponse returned kOk: the code of the ERR that ended the reply, if one did.
  std::optional<std::uint16_t> error_code() const { return error_code_; }
  // After RelayResponse returned kOk: the warning count the reply ended with.
  std::uint16_t warnings() const { return warnings_; }
  // Rows the reply carried (result-set rows) or changed (affected rows of its OKs).
  std::uint64_t rows() const { return rows_; }
  // After a COM_STMT_PREPARE's reply: its PREPARE_OK (the statement id the server sent).
  struct Prepared {
    std::uint32_t statement = 0;
    std::uint16_t parameters = 0;
    std::uint16_t columns = 0;
    std::uint16_t warnings = 0;
  };
  std::optional<Prepared> prepared() const { return prepared_; }

 private:
  // Reads what the backend has into out_ (with room for the next whole chunk); the error, or
  // eof, if the connection failed.
  net::Awaitable<std::error_code> ReadFromBackend();
  // Reads (and drops) the replies to ResetFirst's or Prepend's commands. An ERR is logged:
  // the command still ran.
  net::Awaitable<Outcome> ReadResetReplies();
  // Reads one prepended prepare's reply into prepended_prepares_.
  net::Awaitable<Outcome> ReadPrependedPrepare();
  // The client's end of a failure while reading prepended replies.
  net::Awaitable<Outcome> PrependedReplyLost(const std::error_code& error);
  net::Awaitable<Outcome> PrependedReplyInvalid(protocol::ByteView payload);
  // Transaction pooling: clears SESSION_STATE_CHANGED in an EOF's status (in place) unless
  // the client's trackers could have something to report after a result.
  void HideEofStateChange(std::span<std::uint8_t> eof) const;
  // Keeps the entries `client_tracking_` gives; true if any was taken out.
  bool FilterChanges(std::vector<protocol::SessionChange>* changes) const;
  // Re-encodes a backend OK for this client if it must differ; tracks the schema.
  std::optional<protocol::Bytes> AdaptOk(protocol::ByteView payload, std::uint8_t sequence);

  ClientChannel& client_;
  pool::BackendConnection& backend_;
  net::BufferPool& buffers_;
  SessionState& state_;
  const std::uint64_t session_;
  const std::size_t max_client_packet_;
  std::unique_ptr<net::IoBuffer> out_;  // Backend bytes not yet relayed.
  std::optional<std::uint16_t> error_code_;
  protocol::Bytes reset_request_;  // Sent with the command's first bytes (ResetFirst).
  // The id the backend's next reply packet has in the plain protocol: a compressed backend's
  // replies are renumbered for a plain client (the server numbers them from its frame ids).
  std::uint8_t reply_sequence_ = 0;
  bool hide_state_change_ = false;
  const pool::TrackerSettings* client_tracking_ = nullptr;
  std::optional<Prepared> prepared_;
  std::optional<std::string> prepended_error_;
  std::optional<protocol::ErrPacket> first_prepended_err_;
  bool replaced_error_ = false;  // The reply's ERR was replacement_error_.
  // The prepended commands' replies still to read: OK/ERR (false) or a prepare's (true).
  std::vector<bool> expected_;
  std::vector<PrependedPrepare> prepended_prepares_;
  bool replace_with_prepare_error_ = false;
  std::optional<protocol::ErrPacket> replacement_error_;
  std::optional<std::uint32_t> exposed_id_;
  std::vector<protocol::Bytes>* capture_ = nullptr;
  std::size_t capture_limit_ = 0;
  std::size_t captured_bytes_ = 0;
  std::vector<std::string>* column_names_ = nullptr;
  std::optional<std::uint16_t> known_columns_;
  std::optional<bool> metadata_changed_;  // Decided at the first column count.
  // Sets or clears METADATA_CHANGED in an EOF or OK (in place), once decided.
  void MarkMetadata(std::span<std::uint8_t> payload, protocol::ServerPacketKind kind) const;
  std::uint16_t warnings_ = 0;
  std::uint64_t rows_ = 0;
};

}  // namespace longlink::proxy
