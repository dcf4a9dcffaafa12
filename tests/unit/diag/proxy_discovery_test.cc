#include "diag/proxy_discovery.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace longlink::diag {
namespace {

namespace fs = std::filesystem;

TEST(ProxyDiscoveryTest, ConfigArgument) {
  using V = std::vector<std::string>;
  auto arg = [](V argv) { return ProxyConfigArgument(argv); };
  EXPECT_EQ(arg({"/usr/bin/longlink", "proxy", "--config", "/etc/l.toml"}), "/etc/l.toml");
  EXPECT_EQ(arg({"longlink", "proxy", "--workers", "2", "--config=rel.toml"}), "rel.toml");
  EXPECT_EQ(arg({"./build/src/longlink", "proxy", "--backend", "127.0.0.1:3306"}), "");
  EXPECT_EQ(arg({"longlink", "proxy", "--config"}), "");
  EXPECT_EQ(arg({"longlink", "proxy", "--", "--config", "x"}), "");
  EXPECT_FALSE(arg({"longlink", "diagnose", "--config", "x"}).has_value());
  EXPECT_FALSE(arg({"notlonglink", "proxy", "--config", "x"}).has_value());
  EXPECT_FALSE(arg({"/opt/longlink/bin/python3", "proxy"}).has_value());
  EXPECT_FALSE(arg({"longlink"}).has_value());
  EXPECT_FALSE(arg({}).has_value());
}

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("fake-proc-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "proc");
    fs::create_directories(root_ / "etc");
  }
  void TearDown() override { fs::remove_all(root_); }

  // A process `pid` with `argv`, working directory `cwd` and network namespace `netns`.
  void Process(int pid, const std::vector<std::string>& argv, const fs::path& cwd,
               const std::string& netns = "net:[4026531840]") {
    fs::path dir = root_ / "proc" / std::to_string(pid);
    fs::create_directories(dir / "ns");
    std::ofstream cmdline(dir / "cmdline", std::ios::binary);
    for (const auto& a : argv) cmdline << a << '\0';
    fs::create_symlink(cwd, dir / "cwd");
    fs::create_symlink(netns, dir / "ns" / "net");
  }
  void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  std::string Proc() const { return (root_ / "proc").string(); }
  fs::path root_;
};

constexpr const char* kConfig = R"(
[listen]
tcp = ["127.0.0.1:6033"]
unix_socket = "/run/longlink/mysql.sock"
[backend]
address = "127.0.0.1:3306"
[pool]
max_connections = 8
[[users]]
name = "app"
password = "secret"
)";

TEST_F(FakeProc, FindsProxiesAndResolvesTheirConfigs) {
  Write(root_ / "etc" / "with-admin.toml",
        std::string(kConfig) + "[admin]\nunix_socket = \"/run/longlink/admin.sock\"\n");
  Write(root_ / "etc" / "without-admin.toml", kConfig);
  Process(300, {"/usr/bin/longlink", "proxy", "--config", "with-admin.toml"}, root_ / "etc");
  Process(200, {"longlink", "proxy", "--config=" + (root_ / "etc/without-admin.toml").string()},
          "/");
  Process(250, {"longlink", "proxy", "--backend", "127.0.0.1:3306"}, "/");
  Process(260, {"longlink", "proxy", "--config", "missing.toml"}, root_ / "etc");
  Process(270, {"longlink", "diagnose"}, "/");
  Process(280, {"longlink", "proxy", "--config", "with-admin.toml"}, root_ / "etc",
          "net:[4026532000]");  // Another network namespace.
  fs::create_directories(root_ / "proc" / "self");

  auto found = FindProxyProcesses(Proc(), "net:[4026531840]");
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0].pid, 200);
  EXPECT_EQ(found[1].pid, 250);
  EXPECT_EQ(found[1].config_file, "");
  EXPECT_EQ(found[2].pid, 260);
  EXPECT_EQ(found[3].pid, 300);
  EXPECT_EQ(found[3].config_file, (root_ / "etc" / "with-admin.toml").string());
  EXPECT_EQ(FindProxyProcesses(Proc(), "").size(), 5u);  // Every namespace.

  ProxyStatus without = DescribeFoundProxy(found[0]);
  EXPECT_EQ(without.reach, ProxyReach::kNoAdminSocket);
  EXPECT_EQ(without.error, "its config has no [admin] unix_socket");
  EXPECT_EQ(without.config.backend_address, "127.0.0.1:3306");

  ProxyStatus flags_only = DescribeFoundProxy(found[1]);
  EXPECT_EQ(flags_only.reach, ProxyReach::kNoAdminSocket);

  ProxyStatus missing = DescribeFoundProxy(found[2]);
  EXPECT_EQ(missing.reach, ProxyReach::kConfigUnreadable);
  EXPECT_NE(missing.error.find("missing.toml"), std::string::npos) << missing.error;

  ProxyStatus with = DescribeFoundProxy(found[3]);
  EXPECT_EQ(with.pid, 300);
  EXPECT_EQ(with.admin_socket, "/run/longlink/admin.sock");
  EXPECT_EQ(with.config.tcp, std::vector<std::string>{"127.0.0.1:6033"});
  EXPECT_EQ(with.config.unix_socket, "/run/longlink/mysql.sock");
  EXPECT_EQ(with.config.pool_max_connections, 8u);
}

}  // namespace
}  // namespace longlink::diag
