#include "proxy/session_state.h"

#include <algorithm>
#include <charconv>

#include "protocol/session_track.h"

namespace longlink::proxy {

void SessionState::OnQuery(std::string_view text, const StatementScan& scan) {
  pending_set_.clear();
  found_rows_ = false;
  if (transaction_pooling_) {
    switch (scan.keeps_state) {
      case PinReason::kNone:
        break;
      case PinReason::kFoundRows:
        found_rows_ = true;
        break;
      case PinReason::kLastInsertId:
        // LAST_INSERT_ID(expr) sets it: the value is the server's to tell.
        last_insert_id_known_ = false;
        break;
      default:
        Pin(scan.keeps_state);
    }
    if (scan.names_session_tracking) Pin(PinReason::kSessionTracking);
    if (scan.names_connection_id) Pin(PinReason::kConnectionId);
    pending_collation_ = scan.names_collation;
    return;
  }
  if (scan.keeps_state != PinReason::kNone && scan.keeps_state != PinReason::kFoundRows) {
    Pin(scan.keeps_state);
  }
  if (scan.replayable_set && pin_ == PinReason::kNone) pending_set_ = text;
}

void SessionState::OnUnscannedQuery() {
  pending_set_.clear();
  found_rows_ = false;
  Pin(PinReason::kLargeQuery);
}

void SessionState::OnCommand(protocol::Command command) {
  pending_set_.clear();
  switch (command) {
    case protocol::Command::kStmtPrepare:
      // The server's statement ids (session pooling, or a backend without MariaDB's "last
      // prepared" id); the proxy's own move with the session (session_statements.cc).
      Pin(PinReason::kPreparedStatement);
      break;
    case protocol::Command::kSetOption:
      Pin(PinReason::kSetOption);
      break;
    default:
      break;
  }
}

void SessionState::OnOk(const protocol::OkPacket& ok, const SessionChanges& changes) {
  if (transaction_pooling_) {
    OnTransactionPoolingOk(ok, changes);
    return;
  }
  if (ok.last_insert_id != 0) Pin(PinReason::kLastInsertId);
  if (!(ok.status_flags & protocol::status::kSessionStateChanged)) return;
  if (!pending_set_.empty()) {
    // Keep the last of identical statements only: it decides everything it sets.
    auto old = std::find(replay_.begin(), replay_.end(), pending_set_);
    if (old != replay_.end()) {
      replay_bytes_ -= old->size();
      replay_.erase(old);
    }
    replay_bytes_ += pending_set_.size();
    replay_.push_back(std::move(pending_set_));
    pending_set_.clear();
    if (replay_.size() > kMaxReplayStatements || replay_bytes_ > kMaxReplayBytes) {
      Pin(PinReason::kTooManyVariables);
    }
    return;
  }
  // Another statement changed the state: only a schema change is known and replayable.
  bool schema = false;
  bool other = !changes.ok();
  if (changes.ok()) {
    for (const auto& change : *changes) {
      if (std::holds_alternative<protocol::SchemaChange>(change)) {
        schema = true;
      } else if (!std::holds_alternative<protocol::StateChange>(change)) {
        other = true;
      }
    }
  }
  if (other || !schema) Pin(PinReason::kStateChange);
}

void SessionState::OnTransactionPoolingOk(const protocol::OkPacket& ok,
                                          const SessionChanges& changes) {
  if (ok.last_insert_id != 0) last_insert_id_known_ = false;
  if (!(ok.status_flags & protocol::status::kSessionStateChanged) || ok.session_state.empty()) {
    return;
  }
  if (!changes.ok()) {
    Pin(PinReason::kStateChange);
    return;
  }
  bool state_change = false;
  bool explained = false;  // A variable or the schema changed: what the state change was.
  for (const auto& change : *changes) {
    if (const auto* variable = std::get_if<protocol::SystemVariableChange>(&change)) {
      explained = true;
      OnVariable(variable->name, variable->value);
    } else if (const auto* schema = std::get_if<protocol::SchemaChange>(&change)) {
      explained = true;
      schema_ = schema->schema;
    } else if (std::holds_alternative<protocol::StateChange>(change)) {
      state_change = true;
    } else if (const auto* transaction = std::get_if<protocol::TransactionStateChange>(&change)) {
      if (transaction->state.size() == 8 && transaction->state[7] == 'L') {
        Pin(PinReason::kLockTables);
      }
    }
  }
  if (state_change && !explained) Pin(PinReason::kStateChange);
  if (!pending_collation_.empty() && variables_.Find("character_set_connection") != nullptr) {
    // SET NAMES ... COLLATE: the tracker tells the character sets, not the collation.
    variables_.Set("collation_connection", pending_collation_);
    pending_collation_.clear();
  }
}

void SessionState::OnVariable(std::string_view name, std::string_view value) {
  if (name == "last_insert_id" || name == "identity") {
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    last_insert_id_known_ = error == std::errc() && end == value.data() + value.size();
    last_insert_id_ = number;
    return;
  }
  if (pool::IsOneShotVariable(name)) {
    Pin(PinReason::kOneShotVariable);
    return;
  }
  if (name.starts_with("session_track_")) {
    Pin(PinReason::kSessionTracking);
    const bool on = value == "ON" || value == "1";
    if (name == "session_track_state_change") tracking_.state_change = on;
    if (name == "session_track_schema") tracking_.schema = on;
    if (name == "session_track_transaction_info") {
      tracking_.transaction_info = pool::ParseTransactionInfo(value);
    }
    if (name == "session_track_system_variables") tracking_.system_variables = value;
    return;
  }
  variables_.Set(name, value);
  if (variables_.list().size() > kMaxVariables || variables_.bytes() > kMaxReplayBytes) {
    Pin(PinReason::kTooManyVariables);
  }
}

void SessionState::LearnLastInsertId(const protocol::OkPacket& ok) {
  auto changes = protocol::DecodeSessionState(protocol::AsBytes(ok.session_state));
  if (!changes.ok()) return;
  for (const auto& change : *changes) {
    const auto* variable = std::get_if<protocol::SystemVariableChange>(&change);
    if (variable != nullptr && variable->name == "last_insert_id") {
      OnVariable(variable->name, variable->value);
    }
  }
}

void SessionState::OnReplyEnd(protocol::Command command, std::uint16_t warnings, bool error) {
  const bool statement = command == protocol::Command::kQuery ||
                         command == protocol::Command::kStmtExecute ||
                         command == protocol::Command::kStmtPrepare;
  PinReason hold = PinReason::kNone;
  if (warnings > 0 || (error && statement)) {
    hold = PinReason::kWarnings;  // SHOW WARNINGS, @@warning_count, GET DIAGNOSTICS read them.
  } else if (!statement && hold_ == PinReason::kWarnings) {
    hold = hold_;  // Only a statement clears the diagnostics area.
  } else if (found_rows_ && !error) {
    hold = PinReason::kFoundRows;
  } else if (!statement && hold_ == PinReason::kFoundRows) {
    hold = hold_;
  }
  if (hold == PinReason::kNone && !last_insert_id_known_) hold = PinReason::kLastInsertId;
  hold_ = hold;
}

void SessionState::OnProxyError() {
  if (hold_ == PinReason::kWarnings) {
    hold_ = last_insert_id_known_ ? PinReason::kNone : PinReason::kLastInsertId;
  }
}

bool SessionState::clean(std::uint16_t status_flags) const {
  // A client that learnt its connection id gets another one after a loss, as in session
  // pooling; nothing else of its session is lost.
  return (pin_ == PinReason::kNone || pin_ == PinReason::kConnectionId) &&
         !(status_flags & (protocol::status::kInTrans | protocol::status::kInTransReadonly));
}

bool SessionState::movable(std::uint16_t status_flags) const {
  return pin_ == PinReason::kNone && clean(status_flags) && hold_ == PinReason::kNone &&
         !(status_flags & protocol::status::kCursorExists);
}

PinReason SessionState::pin_reason() const { return pin_ != PinReason::kNone ? pin_ : hold_; }

std::string_view SessionState::dirty_reason(std::uint16_t status_flags) const {
  if (pin_ != PinReason::kNone) return PinReasonText(pin_);
  if (status_flags & (protocol::status::kInTrans | protocol::status::kInTransReadonly)) {
    return "open transaction";
  }
  return "clean";
}

void SessionState::Reset() {
  pin_ = PinReason::kNone;
  hold_ = PinReason::kNone;
  found_rows_ = false;
  replay_.clear();
  replay_bytes_ = 0;
  pending_set_.clear();
  variables_.Clear();
  last_insert_id_ = 0;
  last_insert_id_known_ = true;
}

}  // namespace longlink::proxy
