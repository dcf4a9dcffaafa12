#include "proxy/command_relay.h"

#include <algorithm>
#include <array>
#include <asio/buffer.hpp>
#include <asio/write.hpp>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/log_text.h"
#include "protocol/frame.h"
#include "protocol/session_track.h"
#include "protocol/stmt_execute.h"
#include "protocol/wire.h"
#include "proxy/proxy_errors.h"

namespace longlink::proxy {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::ByteView;
using protocol::ErrPacket;
using protocol::MakeErrPacket;
namespace server_error = protocol::server_error;

namespace {

constexpr std::uint16_t kNotStateChanged =
    static_cast<std::uint16_t>(~protocol::status::kSessionStateChanged);

}  // namespace

CommandRelay::CommandRelay(ClientChannel& client, pool::BackendConnection& backend,
                           net::BufferPool& buffers, SessionState& state, std::uint64_t session,
                           std::size_t max_client_packet)
    : client_(client),
      backend_(backend),
      buffers_(buffers),
      state_(state),
      session_(session),
      max_client_packet_(max_client_packet),
      out_(buffers.Take()) {}

CommandRelay::~CommandRelay() {
  buffers_.Give(std::move(out_));
  backend_.stream().TrimBuffers();
}

net::Awaitable<Outcome> CommandRelay::ForwardCommand(std::uint8_t* sequence, bool* empty) {
  net::ByteStream& backend = backend_.stream();
  backend.StartCommand();
  if (backend.compressed() && !reset_request_.empty()) {
    // A compressed backend reads each command's first frame with id 0 (net_clear): the reset's
    // commands go in a frame of their own, ahead of the client's.
    const std::error_code error = co_await backend_.WriteCommands(reset_request_);
    reset_request_.clear();
    if (error) co_return Outcome::kBackendGone;
    backend.StartCommand();
  }
  co_return co_await ForwardClientPacket(sequence, empty);
}

net::Awaitable<Outcome> CommandRelay::ForwardClientPacket(std::uint8_t* sequence, bool* empty) {
  std::size_t total = 0;
  bool first = true;
  const bool renumber = client_.stream().compressed();
  for (;;) {
    if (!co_await client_.Fill(protocol::kPacketHeaderSize)) co_return Outcome::kClientGone;
    if (renumber) client_.in().mutable_data()[3] = *sequence;
    const auto header = *protocol::DecodePacketHeader(client_.in().data());
    if (header.sequence_id != *sequence) {
      // Bytes of this packet may already be with the backend: its state is unknown.
      {
        const ErrPacket error_packet =
            MakeErrPacket(server_error::kNetPacketsOutOfOrder, "Got packets out of order");
        co_await client_.SendError(error_packet, static_cast<std::uint8_t>(header.sequence_id + 1));
      };
      co_return first ? Outcome::kClientError : Outcome::kBackendError;
    }
    *sequence = static_cast<std::uint8_t>(*sequence + 1);
    total += header.payload_length;
    if (total > max_client_packet_) {
      Log(LogLevel::kInfo, session_, "closing: packet larger than max_allowed_packet ({} bytes)",
          max_client_packet_);
      {
        const ErrPacket error_packet =
            MakeErrPacket(server_error::kNetPacketTooLarge,
                          "Got a packet bigger than 'max_allowed_packet' bytes");
        co_await client_.SendError(error_packet, *sequence);
      };
      co_return first ? Outcome::kClientError : Outcome::kBackendError;
    }
    if (first) *empty = header.payload_length == 0;
    first = false;
    std::size_t remaining = protocol::kPacketHeaderSize + header.payload_length;
    while (remaining > 0) {
      if (client_.in().empty() && !co_await client_.ReadSome()) {
        co_return Outcome::kBackendError;  // Half a packet sent.
      }
      const std::size_t n = std::min(remaining, client_.in().size());
      // A reset due goes in the same write as the command's first bytes.
      const std::array<asio::const_buffer, 2> pieces = {
          asio::buffer(reset_request_), asio::buffer(client_.in().data().data(), n)};
      auto write = net::WriteAll(backend_.stream(), pieces);
      auto [error, written] = co_await std::move(write);
      reset_request_.clear();
      if (error) co_return Outcome::kBackendGone;
      client_.in().Consume(n);
      remaining -= n;
    }
    if (header.payload_length < protocol::kMaxChunkPayload) {
      reply_sequence_ = *sequence;
      co_return Outcome::kOk;
    }
  }
}

net::Awaitable<std::error_code> CommandRelay::ReadFromBackend() {
  // Room for a whole chunk, so that the next one can be relayed in one piece.
  if (auto header = protocol::DecodePacketHeader(out_->data())) {
    out_->Reserve(protocol::kPacketHeaderSize + header->payload_length);
  }
  auto room = out_->Room();
  auto [error, n] = co_await backend_.stream().async_read_some(
      asio::buffer(room.data(), room.size()), net::kNoThrow);
  if (error) co_return error;
  if (n == 0) co_return asio::error::eof;
  out_->Commit(n);
  co_return std::error_code();
}

void CommandRelay::ResetFirst() {
  const Bytes reset = backend_.ResetRequest();
  Prepend(reset, pool::BackendConnection::kResetReplies);
}

void CommandRelay::Prepend(ByteView commands, int replies) {
  reset_request_.insert(reset_request_.end(), commands.begin(), commands.end());
  expected_.insert(expected_.end(), static_cast<std::size_t>(replies), false);
}

void CommandRelay::PrependPrepare(ByteView command) {
  reset_request_.insert(reset_request_.end(), command.begin(), command.end());
  expected_.push_back(true);
}

net::Awaitable<Outcome> CommandRelay::SendCommand(ByteView framed, std::uint8_t next_sequence) {
  net::ByteStream& backend = backend_.stream();
  backend.StartCommand();
  if (backend.compressed() && !reset_request_.empty()) {
    // As ForwardCommand: the prepended commands in a frame of their own.
    const std::error_code error = co_await backend_.WriteCommands(reset_request_);
    reset_request_.clear();
    if (error) co_return Outcome::kBackendGone;
    backend.StartCommand();
  }
  const std::array<asio::const_buffer, 2> pieces = {asio::buffer(reset_request_),
                                                    asio::buffer(framed.data(), framed.size())};
  auto write = net::WriteAll(backend_.stream(), pieces);
  auto [error, written] = co_await std::move(write);
  reset_request_.clear();
  if (error) co_return Outcome::kBackendGone;
  reply_sequence_ = next_sequence;
  co_return Outcome::kOk;
}

net::Awaitable<Outcome> CommandRelay::SendPrepended() {
  const std::error_code error = co_await backend_.WriteCommands(reset_request_);
  reset_request_.clear();
  if (error) co_return Outcome::kBackendGone;
  co_return co_await ReadResetReplies();
}

net::Awaitable<Outcome> CommandRelay::PrependedReplyLost(const std::error_code& error) {
  Log(LogLevel::kWarning, session_, "backend connection {} lost while being reset: {}",
      backend_.state().thread_id, net::ErrorText(error));
  const ErrPacket error_packet = MakeErrPacket(
      server_error::kConnectionKilled,
      "Connection was killed: longlink lost the backend connection before the command "
      "(it did not run)");
  co_await client_.SendError(error_packet, 1);
  co_return Outcome::kBackendGone;
}

net::Awaitable<Outcome> CommandRelay::PrependedReplyInvalid(ByteView payload) {
  Log(LogLevel::kWarning, session_, "backend broke the protocol resetting: packet starts {}",
      LogHexPrefix(payload, 64));
  const ErrPacket error_packet = BackendUnavailable("the backend sent an invalid reply");
  co_await client_.SendError(error_packet, 1);
  co_return Outcome::kBackendError;
}

net::Awaitable<Outcome> CommandRelay::ReadPrependedPrepare() {
  protocol::ResponseTracker tracker(protocol::ResponseShape::kStmtPrepare,
                                    backend_.state().capabilities);
  while (!tracker.complete()) {
    auto chunk = protocol::PeekChunk(out_->data());
    if (!chunk) {
      if (const std::error_code error = co_await ReadFromBackend()) {
        co_return co_await PrependedReplyLost(error);
      }
      continue;
    }
    if (chunk->continues() || !tracker.OnServerPacket(chunk->payload).ok()) {
      co_return co_await PrependedReplyInvalid(chunk->payload);
    }
    out_->Consume(chunk->size());
  }
  PrependedPrepare result;
  if (tracker.ended_with_error()) {
    result.error = *tracker.error();
    Log(LogLevel::kDebug, session_, "preparing a statement on backend connection {} failed: {}",
        backend_.state().thread_id, LogQuoted(tracker.error()->message));
  } else if (tracker.prepare_ok()) {
    result.statement = tracker.prepare_ok()->statement_id;
  }
  prepended_prepares_.push_back(std::move(result));
  co_return Outcome::kOk;
}

net::Awaitable<Outcome> CommandRelay::ReadResetReplies() {
  for (const bool prepare : std::exchange(expected_, {})) {
    if (prepare) {
      const Outcome read = co_await ReadPrependedPrepare();
      if (read != Outcome::kOk) co_return read;
      continue;
    }
    auto chunk = protocol::PeekChunk(out_->data());
    while (!chunk) {
      if (const std::error_code error = co_await ReadFromBackend()) {
        co_return co_await PrependedReplyLost(error);
      }
      chunk = protocol::PeekChunk(out_->data());
    }
    if (chunk->continues() || chunk->payload.empty() ||
        (chunk->payload[0] != protocol::header::kOk &&
         chunk->payload[0] != protocol::header::kErr)) {
      co_return co_await PrependedReplyInvalid(chunk->payload);
    }
    if (chunk->payload[0] == protocol::header::kErr) {
      auto err =
          protocol::Decode<protocol::ErrPacket>(chunk->payload, backend_.state().capabilities);
      const std::string why = err.ok() ? LogQuoted(err->message) : "bad ERR packet";
      Log(LogLevel::kWarning, session_, "preparing backend connection {} failed: {}",
          backend_.state().thread_id, why);
      if (!prepended_error_) prepended_error_ = why;
      if (!first_prepended_err_ && err.ok()) first_prepended_err_ = *err;
    } else if (auto ok = protocol::Decode<protocol::OkPacket>(chunk->payload,
                                                              backend_.state().capabilities);
               ok.ok() && !ok->session_state.empty()) {
      state_.LearnLastInsertId(*ok);
    }
    out_->Consume(chunk->size());
  }
  co_return Outcome::kOk;
}

void CommandRelay::MarkMetadata(std::span<std::uint8_t> payload,
                                protocol::ServerPacketKind kind) const {
  std::size_t at = 0;  // Where the status flags are.
  if (kind == protocol::ServerPacketKind::kEof && payload.size() >= 5) {
    at = 3;  // 0xFE, warnings <2>, status <2>.
  } else if (kind == protocol::ServerPacketKind::kOk ||
             kind == protocol::ServerPacketKind::kOkAsEof) {
    protocol::Reader ok(ByteView(payload).subspan(1));
    if (!ok.ReadLenencInt() || !ok.ReadLenencInt() || ok.remaining() < 2) return;
    at = 1 + ok.position();
  } else {
    return;
  }
  constexpr auto kHigh = static_cast<std::uint8_t>(protocol::status::kMetadataChanged >> 8);
  if (*metadata_changed_) {
    payload[at + 1] = static_cast<std::uint8_t>(payload[at + 1] | kHigh);
  } else {
    payload[at + 1] = static_cast<std::uint8_t>(payload[at + 1] & ~kHigh);
  }
}

void CommandRelay::HideEofStateChange(std::span<std::uint8_t> eof) const {
  // 0xFE, warnings <2>, status <2>. The entries come with the next OK; what a result can
  // change is the transaction state and (user variables) the state-change tracker.
  constexpr std::size_t kStatusHigh = 4;
  const pool::TrackerSettings& client = *client_tracking_;
  if (eof.size() < 5 || client.state_change ||
      client.transaction_info != pool::TrackerSettings::TransactionInfo::kOff) {
    return;
  }
  eof[kStatusHigh] = static_cast<std::uint8_t>(eof[kStatusHigh] & (kNotStateChanged >> 8));
}

bool CommandRelay::FilterChanges(std::vector<protocol::SessionChange>* changes) const {
  using TransactionInfo = pool::TrackerSettings::TransactionInfo;
  const pool::TrackerSettings& client = *client_tracking_;
  const std::size_t before = changes->size();
  std::erase_if(*changes, [&client](const protocol::SessionChange& change) {
    if (const auto* variable = std::get_if<protocol::SystemVariableChange>(&change)) {
      return !client.TracksVariable(variable->name);
    }
    if (std::holds_alternative<protocol::SchemaChange>(change)) return !client.schema;
    if (std::holds_alternative<protocol::StateChange>(change)) return !client.state_change;
    if (std::holds_alternative<protocol::TransactionStateChange>(change)) {
      return client.transaction_info == TransactionInfo::kOff;
    }
    if (std::holds_alternative<protocol::TransactionCharacteristicsChange>(change)) {
      return client.transaction_info != TransactionInfo::kCharacteristics;
    }
    return false;
  });
  return changes->size() != before;
}

std::optional<Bytes> CommandRelay::AdaptOk(ByteView payload, std::uint8_t sequence) {
  auto ok = protocol::Decode<protocol::OkPacket>(payload, backend_.state().capabilities);
  if (!ok.ok()) return std::nullopt;
  rows_ += ok->affected_rows;
  // What the backend sent: a client without CLIENT_SESSION_TRACK must get neither.
  const bool sent_state =
      (ok->status_flags & protocol::status::kSessionStateChanged) || !ok->session_state.empty();
  SessionState::SessionChanges changes = std::vector<protocol::SessionChange>{};
  if (!ok->session_state.empty()) {
    changes = protocol::DecodeSessionState(protocol::AsBytes(ok->session_state));
    if (changes.ok()) {
      for (const auto& change : *changes) {
        if (const auto* schema = std::get_if<protocol::SchemaChange>(&change)) {
          backend_.state().schema = schema->schema;
        }
      }
    }
  }
  state_.OnOk(*ok, changes);
  if (client_tracking_ != nullptr && changes.ok() &&
      (ok->status_flags & protocol::status::kSessionStateChanged)) {
    // Transaction pooling: only what the client's own tracker settings would report.
    if (!FilterChanges(&*changes)) {
      if (client_.capabilities() & cap::kSessionTrack) return std::nullopt;
    } else if (changes->empty()) {
      ok->status_flags &= kNotStateChanged;
      ok->session_state.clear();
    } else {
      ok->session_state = protocol::EncodeSessionState(*changes);
    }
    if (client_.capabilities() & cap::kSessionTrack) {
      return protocol::Frame(protocol::Encode(*ok, client_.capabilities()), sequence);
    }
  }
  if (client_.capabilities() & cap::kSessionTrack) {
    if (!hide_state_change_ || !(ok->status_flags & protocol::status::kSessionStateChanged) ||
        !changes.ok()) {
      return std::nullopt;
    }
    const std::size_t before = changes->size();
    std::erase_if(*changes, [](const protocol::SessionChange& change) {
      return std::holds_alternative<protocol::StateChange>(change);
    });
    if (changes->size() == before) return std::nullopt;
    if (changes->empty()) {
      ok->status_flags &= kNotStateChanged;
      ok->session_state.clear();
    } else {
      ok->session_state = protocol::EncodeSessionState(*changes);
    }
    return protocol::Frame(protocol::Encode(*ok, client_.capabilities()), sequence);
  }
  if (!sent_state) return std::nullopt;
  ok->status_flags &= kNotStateChanged;
  ok->session_state.clear();
  return protocol::Frame(protocol::Encode(*ok, client_.capabilities()), sequence);
}

net::Awaitable<Outcome> CommandRelay::RelayResponse(protocol::ResponseShape shape,
                                                    bool cursor_requested) {
  if (!expected_.empty()) {
    const Outcome reset = co_await ReadResetReplies();
    if (reset != Outcome::kOk) co_return reset;
  }
  if (replace_with_prepare_error_ && !prepended_prepares_.empty()) {
    replacement_error_ = prepended_prepares_.back().error;
  }
  if (shape == protocol::ResponseShape::kNone) co_return Outcome::kOk;
  protocol::ResponseTracker tracker(shape, backend_.state().capabilities, cursor_requested);
  const bool renumber = backend_.stream().compressed() && !client_.stream().compressed();
  bool continuation = false;
  bool sent_any = false;
  std::uint8_t last_sequence = 0;
  std::vector<asio::const_buffer> pieces;
  std::vector<Bytes> replacements;

  while (!tracker.complete()) {
    // Relay every complete chunk buffered so far.
    const std::span<std::uint8_t> bytes = out_->mutable_data();
    const ByteView data = bytes;
    std::size_t pos = 0;
    std::size_t run_start = 0;
    pieces.clear();
    replacements.clear();      // Moving a Bytes keeps its data: pieces stay valid on growth.
    bool client_turn = false;  // The server waits for the client (LOCAL INFILE).
    while (!tracker.complete() && !client_turn) {
      auto chunk = protocol::PeekChunk(data.subspan(pos));
      if (!chunk) break;
      if (renumber) bytes[pos + 3] = reply_sequence_++;
      last_sequence = bytes[pos + 3];
      if (!continuation) {
        auto kind = tracker.OnServerPacket(chunk->payload);
        if (kind.ok() && *kind == protocol::ServerPacketKind::kRow) ++rows_;
        if (!kind.ok()) {
          Log(LogLevel::kWarning, session_, "backend broke the protocol: {} (packet starts {})",
              kind.error().message, LogHexPrefix(chunk->payload, 64));
          if (!sent_any) {
            {
              const ErrPacket error_packet =
                  BackendUnavailable("the backend sent an invalid reply");
              co_await client_.SendError(error_packet, 1);
            };
          }
          co_return Outcome::kBackendError;
        }
        if (capture_ != nullptr) {
          // A packet of several chunks is never kept.
          captured_bytes_ += chunk->continues() ? capture_limit_ + 1 : chunk->payload.size();
          if (captured_bytes_ <= capture_limit_) {
            capture_->emplace_back(chunk->payload.begin(), chunk->payload.end());
          } else {
            capture_->clear();
          }
        }
        if (known_columns_ && !metadata_changed_ &&
            *kind == protocol::ServerPacketKind::kColumnCount) {
          protocol::Reader count(chunk->payload);
          if (auto columns = count.ReadLenencInt()) metadata_changed_ = *columns != *known_columns_;
        }
        if (metadata_changed_) {
          MarkMetadata(bytes.subspan(pos + protocol::kPacketHeaderSize, chunk->payload.size()),
                       *kind);
        }
        if (column_names_ != nullptr) {
          if (*kind == protocol::ServerPacketKind::kColumnDefinition) {
            column_names_->push_back(protocol::ColumnIdentity(chunk->payload).value_or(""));
          } else if (!column_names_->empty()) {
            column_names_ = nullptr;  // The first result's definitions are all in.
          }
        }
        if (*kind == protocol::ServerPacketKind::kErr && replacement_error_ && !sent_any &&
            pos == 0) {
          replacements.push_back(protocol::Frame(
              protocol::Encode(*replacement_error_, client_.capabilities()), last_sequence));
          replaced_error_ = true;
          pieces.emplace_back(replacements.back().data(), replacements.back().size());
          run_start = pos + chunk->size();
        }
        if (*kind == protocol::ServerPacketKind::kStmtPrepareOk) {
          // 0x00, statement id <4>, columns <2>, parameters <2>, 0x00, warnings <2>.
          protocol::Reader ok(chunk->payload.subspan(1));
          const auto statement = ok.ReadU32();
          const auto columns = ok.ReadU16();
          const auto parameters = ok.ReadU16();
          const auto filler = ok.ReadU8();
          const auto warnings = ok.ReadU16();
          if (statement && columns && parameters) {
            prepared_ = Prepared{.statement = *statement,
                                 .parameters = *parameters,
                                 .columns = *columns,
                                 .warnings = filler && warnings ? *warnings : std::uint16_t{0}};
          }
          if (exposed_id_) {
            protocol::SetStatementId(
                bytes.subspan(pos + protocol::kPacketHeaderSize, chunk->payload.size()),
                *exposed_id_);
          }
        }
        if (*kind == protocol::ServerPacketKind::kEof && client_tracking_ != nullptr) {
          HideEofStateChange(
              bytes.subspan(pos + protocol::kPacketHeaderSize, chunk->payload.size()));
        }
        if (*kind == protocol::ServerPacketKind::kOk ||
            *kind == protocol::ServerPacketKind::kOkAsEof) {
          if (auto replacement = AdaptOk(chunk->payload, last_sequence)) {
            if (pos > run_start) pieces.emplace_back(data.data() + run_start, pos - run_start);
            replacements.push_back(std::move(*replacement));
            pieces.emplace_back(replacements.back().data(), replacements.back().size());
            run_start = pos + chunk->size();
          }
        }
      }
      continuation = chunk->continues();
      pos += chunk->size();
      client_turn = !continuation && tracker.awaiting_client();
    }
    if (pos > run_start) pieces.emplace_back(data.data() + run_start, pos - run_start);
    if (!pieces.empty()) {
      auto write = net::WriteAll(client_.stream(), pieces);
      auto [error, written] = co_await std::move(write);
      client_.CountSent(written);
      if (error) co_return Outcome::kBackendError;  // The rest of the response is unread.
      sent_any = true;
    }
    out_->Consume(pos);
    if (tracker.complete()) break;

    if (client_turn) {
      // LOAD DATA LOCAL INFILE: the client sends the file, then an empty packet.
      std::uint8_t sequence = static_cast<std::uint8_t>(last_sequence + 1);
      for (;;) {
        bool empty = false;
        const Outcome forwarded = co_await ForwardClientPacket(&sequence, &empty);
        if (forwarded != Outcome::kOk) {
          // The server is in the middle of the LOAD: whatever went wrong on the client's side,
          // the backend's state is unknown (found by the session fuzzer: a misnumbered file
          // packet used to release it as clean, and the pool's reset met the LOAD).
          co_return forwarded == Outcome::kBackendGone ? forwarded : Outcome::kBackendError;
        }
        if (empty) break;
      }
      // The server's OK or ERR follows; the tracker clears awaiting_client when it comes.
    }

    if (const std::error_code error = co_await ReadFromBackend()) {
      Log(LogLevel::kWarning, session_, "backend connection {} lost during a command: {}",
          backend_.state().thread_id, net::ErrorText(error));
      // Between packets the client can still read an ERR (in place of the next row); in the
      // middle of a split packet it can only see the close.
      if (!continuation) {
        const ErrPacket error_packet = MakeErrPacket(
            server_error::kConnectionKilled,
            "Connection was killed: longlink lost the backend connection during the command "
            "(it may or may not have run; it is not repeated)");
        co_await client_.SendError(error_packet, sent_any
                                                     ? static_cast<std::uint8_t>(last_sequence + 1)
                                                     : reply_sequence_);
      }
      co_return Outcome::kBackendGone;
    }
  }
  if (!out_->empty()) {
    Log(LogLevel::kWarning, session_, "backend sent {} bytes after the end of a reply",
        out_->size());
    co_return Outcome::kBackendError;
  }
  error_code_.reset();
  warnings_ = tracker.warnings();
  if (tracker.ended_with_error()) {
    error_code_ = replaced_error_ ? replacement_error_->code : tracker.error()->code;
  } else {
    backend_.state().status_flags = tracker.status_flags();
  }
  backend_.state().last_alive_at = pool::Clock::now();
  co_return Outcome::kOk;
}

}  // namespace longlink::proxy
