#include "protocol/response.h"

#include <string>

#include "protocol/frame.h"
#include "protocol/handshake.h"

namespace longlink::protocol {
namespace {

constexpr std::string_view kMessage = "server response";
constexpr std::size_t kMaxEofPayload = 9;  // An EOF proper is shorter than this.

}  // namespace

std::optional<ResponseShape> ResponseShapeOf(Command command) {
  switch (command) {
    case Command::kQuit:
    case Command::kStmtSendLongData:
    case Command::kStmtClose:
      return ResponseShape::kNone;
    case Command::kQuery:
    case Command::kProcessInfo:
      return ResponseShape::kQuery;
    case Command::kFieldList:
      return ResponseShape::kFieldList;
    case Command::kStatistics:
      return ResponseShape::kStatistics;
    case Command::kSetOption:
    case Command::kDebug:
    case Command::kShutdown:
      return ResponseShape::kEofOrErr;
    case Command::kStmtPrepare:
      return ResponseShape::kStmtPrepare;
    case Command::kStmtExecute:
    case Command::kStmtBulkExecute:
      return ResponseShape::kStmtExecute;
    case Command::kStmtFetch:
      return ResponseShape::kStmtFetch;
    case Command::kChangeUser:
      return ResponseShape::kAuthentication;
    case Command::kBinlogDump:
    case Command::kBinlogDumpGtid:
    case Command::kTableDump:
    case Command::kConnectOut:
    case Command::kRegisterSlave:
      return std::nullopt;
    default:
      return ResponseShape::kOkOrErr;
  }
}

bool IsResultSetTerminator(ByteView payload, Capabilities caps) {
  if (payload.empty() || payload[0] != header::kEof) return false;
  if (caps & capability::kDeprecateEof) return payload.size() < kMaxChunkPayload;
  return payload.size() < kMaxEofPayload;
}

bool StmtExecuteRequestsCursor(ByteView payload) {
  // command (1), statement id (4), flags (1): CURSOR_TYPE_READ_ONLY 1, FOR_UPDATE 2,
  // SCROLLABLE 4.
  constexpr std::size_t kFlagsOffset = 5;
  constexpr std::uint8_t kCursorTypes = 0x07;
  return payload.size() > kFlagsOffset && (payload[kFlagsOffset] & kCursorTypes) != 0;
}

ResponseTracker::ResponseTracker(ResponseShape shape, Capabilities caps, bool cursor_requested)
    : shape_(shape), caps_(caps), cursor_requested_(cursor_requested) {
  switch (shape) {
    case ResponseShape::kNone:
      state_ = State::kComplete;
      break;
    case ResponseShape::kOkOrErr:
      state_ = State::kSingleOk;
      break;
    case ResponseShape::kEofOrErr:
      state_ = State::kSingleEof;
      break;
    case ResponseShape::kStatistics:
      state_ = State::kStatistics;
      break;
    case ResponseShape::kQuery:
    case ResponseShape::kStmtExecute:
      state_ = State::kFirst;
      break;
    case ResponseShape::kFieldList:
      state_ = State::kFieldList;
      break;
    case ResponseShape::kStmtPrepare:
      state_ = State::kPrepareOk;
      break;
    case ResponseShape::kStmtFetch:
      state_ = State::kRows;
      break;
    case ResponseShape::kAuthentication:
      state_ = State::kAuthentication;
      break;
  }
}

Error ResponseTracker::Fail(Error error) {
  state_ = State::kFailed;
  awaiting_client_ = false;
  return error;
}

bool ResponseTracker::BinaryRows() const {
  return shape_ == ResponseShape::kStmtExecute || shape_ == ResponseShape::kStmtFetch;
}

void ResponseTracker::EndResult(std::uint16_t status_flags) {
  status_flags_ = status_flags;
  more_results_ = (status_flags & status::kMoreResultsExist) != 0;
  const bool can_continue =
      shape_ == ResponseShape::kQuery || shape_ == ResponseShape::kStmtExecute;
  state_ = more_results_ && can_continue ? State::kFirst : State::kComplete;
  if (state_ == State::kComplete) more_results_ = false;
}

void ResponseTracker::AfterColumnDefinitions() {
  state_ = (caps_ & capability::kDeprecateEof) ? State::kRows : State::kMetadataEof;
}

void ResponseTracker::AfterParameterDefinitions() {
  if (!(caps_ & capability::kDeprecateEof)) {
    state_ = State::kPrepareParametersEof;
    return;
  }
  remaining_ = prepare_ok_->column_count;
  state_ = remaining_ > 0 ? State::kPrepareColumns : State::kComplete;
}

Status ResponseTracker::TakeOk(ByteView payload) {
  auto ok = Decode<OkPacket>(payload, caps_);
  if (!ok) return ok.error();
  last_ok_ = std::move(*ok);
  status_flags_ = last_ok_->status_flags;
  warnings_ = last_ok_->warnings;
  return {};
}

Status ResponseTracker::TakeEof(ByteView payload) {
  auto eof = Decode<EofPacket>(payload, caps_);
  if (!eof) return eof.error();
  status_flags_ = eof->status_flags;
  warnings_ = eof->warnings;
  return {};
}

// A packet for which IsResultSetTerminator holds: EOF, or OK with a 0xFE header.
Result<ServerPacketKind> ResponseTracker::Terminator(ByteView payload) {
  if (caps_ & capability::kDeprecateEof) {
    if (auto status = TakeOk(payload); !status) return status.error();
    return ServerPacketKind::kOkAsEof;
  }
  if (auto status = TakeEof(payload); !status) return status.error();
  return ServerPacketKind::kEof;
}

Result<ServerPacketKind> ResponseTracker::OnServerPacket(ByteView payload) {
  if (state_ == State::kComplete) {
    return Fail(Malformed(kMessage, "packet after the response was complete"));
  }
  if (state_ == State::kFailed) return Error{"server response: tracker already failed"};
  awaiting_client_ = false;
  auto kind = Step(payload);
  if (!kind) return Fail(kind.error());
  return kind;
}

Result<ServerPacketKind> ResponseTracker::Step(ByteView payload) {
  if (payload.empty() && state_ != State::kStatistics) {
    return Malformed(kMessage, "empty packet");
  }
  const std::uint8_t first = payload.empty() ? 0 : payload[0];

  // ERR can end a response anywhere (no row, definition or count starts with 0xFF).
  if (first == header::kErr) {
    if (IsProgressReport(payload)) {
      if ((caps_ & capability::kMariadbProgress) && state_ != State::kAuthentication) {
        return ServerPacketKind::kProgressReport;
      }
      return Malformed(kMessage, "progress report without the PROGRESS capability");
    }
    auto err = Decode<ErrPacket>(payload, caps_);
    if (!err) return err.error();
    error_ = std::move(*err);
    more_results_ = false;
    state_ = State::kComplete;
    return ServerPacketKind::kErr;
  }

  switch (state_) {
    case State::kFirst: {
      if (first == header::kOk) {
        if (auto status = TakeOk(payload); !status) return status.error();
        EndResult(status_flags_);
        return ServerPacketKind::kOk;
      }
      if (first == header::kLocalInfile) {  // Also for a prepared LOAD DATA LOCAL INFILE.
        state_ = State::kLocalInfile;
        awaiting_client_ = true;
        return ServerPacketKind::kLocalInfileRequest;
      }
      if (first == header::kEof) {
        return Malformed(kMessage, "0xFE where a result set should start");
      }
      auto count = Decode<ColumnCount>(payload, caps_);
      if (!count) return count.error();
      more_results_ = false;
      if (count->metadata_follows) {
        remaining_ = count->count;
        state_ = State::kColumnDefinitions;
      } else {
        AfterColumnDefinitions();
      }
      return ServerPacketKind::kColumnCount;
    }

    case State::kColumnDefinitions:
      if (--remaining_ == 0) AfterColumnDefinitions();
      return ServerPacketKind::kColumnDefinition;

    case State::kMetadataEof: {
      if (!IsResultSetTerminator(payload, caps_)) {
        return Malformed(kMessage, "expected EOF after the column definitions");
      }
      if (auto status = TakeEof(payload); !status) return status.error();
      if (shape_ == ResponseShape::kStmtExecute && cursor_requested_ &&
          (status_flags_ & status::kCursorExists) && !(status_flags_ & status::kMoreResultsExist)) {
        state_ = State::kComplete;  // A cursor was opened; rows come through COM_STMT_FETCH.
      } else {
        state_ = State::kRows;
      }
      return ServerPacketKind::kEof;
    }

    case State::kRows: {
      if (IsResultSetTerminator(payload, caps_)) {
        auto kind = Terminator(payload);
        if (!kind) return kind.error();
        EndResult(status_flags_);
        return kind;
      }
      if (BinaryRows() && first != header::kOk) {
        return Malformed(kMessage, "binary row does not start with 0x00");
      }
      return ServerPacketKind::kRow;
    }

    case State::kLocalInfile: {
      if (first != header::kOk) {
        return Malformed(kMessage, "expected OK or ERR after LOCAL INFILE data");
      }
      if (auto status = TakeOk(payload); !status) return status.error();
      EndResult(status_flags_);
      return ServerPacketKind::kOk;
    }

    case State::kFieldList: {
      if (IsResultSetTerminator(payload, caps_)) {
        auto kind = Terminator(payload);
        if (!kind) return kind.error();
        state_ = State::kComplete;
        return kind;
      }
      return ServerPacketKind::kColumnDefinition;
    }

    case State::kPrepareOk: {
      auto ok = Decode<StmtPrepareOk>(payload, caps_);
      if (!ok) return ok.error();
      prepare_ok_ = *ok;
      if (ok->parameter_count > 0) {
        remaining_ = ok->parameter_count;
        state_ = State::kPrepareParameters;
      } else if (ok->column_count > 0) {
        remaining_ = ok->column_count;
        state_ = State::kPrepareColumns;
      } else {
        state_ = State::kComplete;
      }
      return ServerPacketKind::kStmtPrepareOk;
    }

    case State::kPrepareParameters:
      if (--remaining_ == 0) AfterParameterDefinitions();
      return ServerPacketKind::kParameterDefinition;

    case State::kPrepareParametersEof: {
      if (!IsResultSetTerminator(payload, caps_)) {
        return Malformed(kMessage, "expected EOF after the parameter definitions");
      }
      if (auto status = TakeEof(payload); !status) return status.error();
      remaining_ = prepare_ok_->column_count;
      state_ = remaining_ > 0 ? State::kPrepareColumns : State::kComplete;
      return ServerPacketKind::kEof;
    }

    case State::kPrepareColumns:
      if (--remaining_ == 0) {
        state_ = (caps_ & capability::kDeprecateEof) ? State::kComplete : State::kPrepareColumnsEof;
      }
      return ServerPacketKind::kColumnDefinition;

    case State::kPrepareColumnsEof: {
      if (!IsResultSetTerminator(payload, caps_)) {
        return Malformed(kMessage, "expected EOF after the column definitions");
      }
      if (auto status = TakeEof(payload); !status) return status.error();
      state_ = State::kComplete;
      return ServerPacketKind::kEof;
    }

    case State::kSingleOk: {
      if (first != header::kOk) return Malformed(kMessage, "expected OK or ERR");
      if (auto status = TakeOk(payload); !status) return status.error();
      state_ = State::kComplete;
      return ServerPacketKind::kOk;
    }

    case State::kSingleEof: {
      if (first == header::kOk) {
        if (auto status = TakeOk(payload); !status) return status.error();
        state_ = State::kComplete;
        return ServerPacketKind::kOk;
      }
      if (!IsResultSetTerminator(payload, caps_)) {
        return Malformed(kMessage, "expected EOF or ERR");
      }
      auto kind = Terminator(payload);
      if (!kind) return kind.error();
      state_ = State::kComplete;
      return kind;
    }

    case State::kStatistics:
      state_ = State::kComplete;
      return ServerPacketKind::kStatistics;

    case State::kAuthentication: {
      if (first == header::kOk) {
        if (auto status = TakeOk(payload); !status) return status.error();
        state_ = State::kComplete;
        return ServerPacketKind::kOk;
      }
      awaiting_client_ = true;
      if (first == header::kEof) {
        auto request = Decode<AuthSwitchRequest>(payload);
        if (!request) return request.error();
        return ServerPacketKind::kAuthSwitchRequest;
      }
      return ServerPacketKind::kAuthMoreData;
    }

    case State::kComplete:
    case State::kFailed:
      break;
  }
  return Malformed(kMessage, "unexpected packet");
}

}  // namespace longlink::protocol
