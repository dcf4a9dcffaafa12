#include "diag/tcp_state.h"

#include <gtest/gtest.h>

namespace longlink::diag {
namespace {

TEST(TcpStateTest, ParsesEverySpelling) {
  struct Row {
    const char* text;
    std::optional<TcpState> want;
  };
  const Row rows[] = {
      {"TIME_WAIT", TcpState::kTimeWait},
      {"time-wait", TcpState::kTimeWait},
      {"Time_Wait", TcpState::kTimeWait},
      {"close-wait", TcpState::kCloseWait},
      {"established", TcpState::kEstablished},
      {"fin-wait-2", TcpState::kFinWait2},
      {"FIN_WAIT2", TcpState::kFinWait2},
      {"fin-wait-1", TcpState::kFinWait1},
      {"syn-recv", TcpState::kSynRecv},
      {"listening", TcpState::kListen},
      {"LISTEN", TcpState::kListen},
      {"closed", TcpState::kClose},
      {"last-ack", TcpState::kLastAck},
      {"closing", TcpState::kClosing},
      {"bogus", std::nullopt},
      {"", std::nullopt},
      {"UNKNOWN", std::nullopt},
  };
  for (const auto& row : rows) EXPECT_EQ(ParseTcpState(row.text), row.want) << row.text;
}

TEST(TcpStateTest, NamesRoundTripThroughParse) {
  for (TcpState s : kAllTcpStates) EXPECT_EQ(ParseTcpState(TcpStateName(s)), s);
}

TEST(TcpStateTest, KernelNumbersOutsideTheTableAreRejected) {
  EXPECT_EQ(TcpStateFromKernel(0), std::nullopt);
  EXPECT_EQ(TcpStateFromKernel(12), std::nullopt);  // TCP_NEW_SYN_RECV
  EXPECT_EQ(TcpStateFromKernel(6), TcpState::kTimeWait);
  EXPECT_EQ(StateBit(TcpState::kTimeWait), 0x40u);
}

}  // namespace
}  // namespace longlink::diag
