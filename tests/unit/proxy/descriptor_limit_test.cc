#include "proxy/descriptor_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace longlink::proxy {
namespace {

// Runs with a soft limit of 256 (the hard limit kept) and restores the original afterwards.
class DescriptorLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original_), 0);
    if (original_.rlim_max <= 1024) GTEST_SKIP() << "needs a hard descriptor limit above 1024";
    rlimit low = original_;
    low.rlim_cur = 256;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  }
  void TearDown() override { ::setrlimit(RLIMIT_NOFILE, &original_); }

  static rlim_t Soft() {
    rlimit now{};
    ::getrlimit(RLIMIT_NOFILE, &now);
    return now.rlim_cur;
  }

  rlimit original_{};
};

TEST_F(DescriptorLimitTest, RaisesTheSoftLimitToWhatIsNeeded) {
  const DescriptorLimit limit = EnsureDescriptorLimit(1000);
  EXPECT_EQ(limit.before, 256U);
  EXPECT_EQ(limit.now, 1000U);
  EXPECT_TRUE(limit.enough);
  EXPECT_EQ(Soft(), 1000U);
}

TEST_F(DescriptorLimitTest, NeverLowersIt) {
  const DescriptorLimit limit = EnsureDescriptorLimit(100);
  EXPECT_EQ(limit.now, 256U);
  EXPECT_TRUE(limit.enough);
  EXPECT_EQ(Soft(), 256U);
}

TEST_F(DescriptorLimitTest, StopsAtTheHardLimitAndSaysSo) {
  const DescriptorLimit limit = EnsureDescriptorLimit(original_.rlim_max + 1);
  EXPECT_EQ(limit.now, original_.rlim_max);
  EXPECT_EQ(limit.hard, original_.rlim_max);
  EXPECT_FALSE(limit.enough);
  EXPECT_EQ(Soft(), original_.rlim_max);
}

TEST(DescriptorsNeededTest, CountsClientsBackendsListenersAndAMargin) {
  EXPECT_EQ(DescriptorsNeeded(10000, 20, 6), 10000U + 20 + 6 + 64);
  EXPECT_EQ(DescriptorsNeeded(0, 0, 0), 64U);
}

}  // namespace
}  // namespace longlink::proxy
