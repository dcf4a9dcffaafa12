// Client-to-server messages: handshake responses and commands.
// Input: int<8> capabilities (for COM_CHANGE_USER), then the payload.
#include "fuzz_util.h"
#include "protocol/command.h"
#include "protocol/handshake.h"

using namespace longlink::protocol;  // NOLINT(google-build-using-namespace)
using longlink::protocol::fuzz::Check;
using longlink::protocol::fuzz::CheckRoundTrip;

namespace {

template <typename Message>
void WithoutCaps(ByteView payload, const char* name) {
  CheckRoundTrip<Message>(
      payload, [](ByteView bytes) { return Decode<Message>(bytes); },
      [](const Message& message) { return Encode(message); }, name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  longlink::protocol::fuzz::Input input(data, size);
  const Capabilities caps = input.TakeU64();
  const ByteView payload = input.Rest();

  WithoutCaps<HandshakeResponse41>(payload, "HandshakeResponse41");
  WithoutCaps<SslRequest>(payload, "SslRequest");
  CheckRoundTrip<ChangeUser>(
      payload, [caps](ByteView bytes) { return Decode<ChangeUser>(bytes, caps); },
      [caps](const ChangeUser& message) { return Encode(message, caps); }, "ChangeUser");
  WithoutCaps<Query>(payload, "COM_QUERY");
  WithoutCaps<InitDb>(payload, "COM_INIT_DB");
  WithoutCaps<FieldList>(payload, "COM_FIELD_LIST");
  WithoutCaps<SetOption>(payload, "COM_SET_OPTION");
  WithoutCaps<StmtPrepare>(payload, "COM_STMT_PREPARE");
  WithoutCaps<StmtExecute>(payload, "COM_STMT_EXECUTE");
  WithoutCaps<StmtSendLongData>(payload, "COM_STMT_SEND_LONG_DATA");
  WithoutCaps<StmtClose>(payload, "COM_STMT_CLOSE");
  WithoutCaps<StmtReset>(payload, "COM_STMT_RESET");
  WithoutCaps<StmtFetch>(payload, "COM_STMT_FETCH");

  auto command = CommandOf(payload);
  Check(command.ok() == !payload.empty(), "CommandOf");
  auto statement_id = StatementIdOf(payload);
  if (statement_id) Check(payload.size() >= 5, "StatementIdOf");
  (void)IsSslRequest(payload);
  return 0;
}
