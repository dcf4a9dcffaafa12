#include "proxy/login_failures.h"

#include <gtest/gtest.h>

namespace longlink::proxy {
namespace {

TEST(LoginFailuresTest, CountsPerUserAndHost) {
  LoginFailures failures;
  EXPECT_EQ(failures.Record("app", "10.0.0.1"), 1U);
  EXPECT_EQ(failures.Record("app", "10.0.0.1"), 2U);
  EXPECT_EQ(failures.Record("app", "10.0.0.2"), 1U);
  EXPECT_EQ(failures.Record("ro", "10.0.0.1"), 1U);
  EXPECT_EQ(failures.Count("app", "10.0.0.1"), 2U);
  EXPECT_EQ(failures.Count("nobody", "10.0.0.1"), 0U);
}

TEST(LoginFailuresTest, BoundedForgettingTheLeastRecent) {
  LoginFailures failures;
  failures.Record("kept", "h");
  for (std::size_t i = 0; i < LoginFailures::kMaxPairs; ++i) {
    failures.Record("user" + std::to_string(i), "h");
    if (i % 100 == 0) failures.Record("kept", "h");  // Recent all along.
  }
  EXPECT_GT(failures.Count("kept", "h"), 1U);
  EXPECT_EQ(failures.Count("user0", "h"), 0U);  // The oldest went.
  EXPECT_EQ(failures.Count("user" + std::to_string(LoginFailures::kMaxPairs - 1), "h"), 1U);
}

}  // namespace
}  // namespace longlink::proxy
