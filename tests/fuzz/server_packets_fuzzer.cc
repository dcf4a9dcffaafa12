// Server-to-client messages: every decoder on the same bytes, under fuzzed capabilities.
// Input: int<8> capabilities, then the payload.
#include <cstdio>

#include "fuzz_util.h"
#include "protocol/handshake.h"
#include "protocol/packets.h"
#include "protocol/response.h"
#include "protocol/session_track.h"

using namespace longlink::protocol;  // NOLINT(google-build-using-namespace)
using longlink::protocol::fuzz::Check;
using longlink::protocol::fuzz::CheckRoundTrip;

namespace {

template <typename Message>
void WithCaps(ByteView payload, Capabilities caps, const char* name) {
  CheckRoundTrip<Message>(
      payload, [caps](ByteView bytes) { return Decode<Message>(bytes, caps); },
      [caps](const Message& message) { return Encode(message, caps); }, name);
}

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

  WithCaps<OkPacket>(payload, caps, "OK");
  // Without PROTOCOL_41 Encode drops the SQLSTATE by design; check the symmetric case.
  WithCaps<ErrPacket>(payload, caps | capability::kProtocol41, "ERR");
  WithCaps<EofPacket>(payload, caps, "EOF");
  WithCaps<StmtPrepareOk>(payload, caps, "PREPARE_OK");
  WithCaps<ColumnCount>(payload, caps, "column count");
  WithCaps<LocalInfileRequest>(payload, caps, "LOCAL INFILE");
  WithoutCaps<HandshakeV10>(payload, "HandshakeV10");
  WithoutCaps<AuthSwitchRequest>(payload, "AuthSwitchRequest");
  WithoutCaps<AuthMoreData>(payload, "AuthMoreData");

  auto changes = DecodeSessionState(payload);
  if (changes.ok()) {
    const std::string encoded = EncodeSessionState(*changes);
    auto again = DecodeSessionState(AsBytes(encoded));
    Check(again.ok() && *again == *changes, "session state");
  }
  (void)IsResultSetTerminator(payload, caps);
  (void)IsProgressReport(payload);
  return 0;
}
