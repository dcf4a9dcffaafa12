#include "admin/metrics_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

#include "admin/metrics_text.h"
#include "sample_snapshot.h"

namespace longlink::admin {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A blocking client socket on 127.0.0.1:port; reads give up after 5 s so a broken server fails
// the test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Everything until the server closes; closed_ says whether it did (EOF) within the timeout.
  std::string ReadAll() {
    std::string out;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0) {
        closed_ = true;
        break;
      }
      if (n < 0) {
        closed_ = errno == ECONNRESET;
        break;
      }
      out.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

HttpResponse ParseResponse(const std::string& text) {
  HttpResponse r;
  const std::size_t end = text.find("\r\n\r\n");
  if (end == std::string::npos || !text.starts_with("HTTP/1.1 ")) return r;
  r.status = std::stoi(text.substr(9, 3));
  std::size_t pos = text.find("\r\n") + 2;
  while (pos < end) {
    const std::size_t line_end = text.find("\r\n", pos);
    const std::string line = text.substr(pos, line_end - pos);
    const std::size_t colon = line.find(": ");
    if (colon != std::string::npos) r.headers[line.substr(0, colon)] = line.substr(colon + 2);
    pos = line_end + 2;
  }
  r.body = text.substr(end + 4);
  return r;
}

class MetricsHttpTest : public ::testing::Test {
 protected:
  void Start(MetricsServerLimits limits) {
    config::SocketAddress address;
    address.host = "127.0.0.1";
    address.port = 0;
    auto server = MetricsServer::Listen(
        io_.get_executor(), address,
        [this] {
          ++renders_;
          render_thread_ = std::this_thread::get_id();
          if (fail_render_) throw std::runtime_error("render failed");
          return body_;
        },
        limits);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    ASSERT_NE(server_->port(), 0);
    server_->Start();
    thread_ = std::thread([this] {
      io_.run();
      ended_.set_value();
    });
  }
  void Start() { Start(MetricsServerLimits{}); }

  // Stop() must leave nothing pending: io_context::run() returns by itself.
  void TearDown() override {
    if (!thread_.joinable()) return;
    server_->Stop();
    auto ended = ended_.get_future();
    if (ended.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "the server left work on the loop after Stop()";
      io_.stop();
    }
    thread_.join();
  }

  HttpResponse Request(const std::string& request) {
    Client client(server_->port());
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(request));
    const std::string text = client.ReadAll();
    EXPECT_TRUE(client.closed()) << "the server did not close after its response";
    return ParseResponse(text);
  }

  asio::io_context io_{1};
  std::unique_ptr<MetricsServer> server_;
  std::thread thread_;
  std::promise<void> ended_;
  const std::string body_ = RenderPrometheus(testing::SampleSnapshot());
  std::atomic<int> renders_{0};
  std::thread::id render_thread_;
  std::atomic<bool> fail_render_{false};
};

TEST_F(MetricsHttpTest, GetMetricsAnswersWhatRenderReturns) {
  Start();
  HttpResponse r = Request("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.headers["Content-Length"], std::to_string(body_.size()));
  EXPECT_EQ(r.headers["Connection"], "close");
  EXPECT_EQ(r.body, body_);
  EXPECT_EQ(renders_, 1);
  EXPECT_EQ(render_thread_, thread_.get_id()) << "render must run on the server's loop";
}

TEST_F(MetricsHttpTest, HeadHasTheHeadersAndNoBody) {
  Start();
  HttpResponse r = Request("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.headers["Content-Length"], std::to_string(body_.size()));
  EXPECT_EQ(r.body, "");
}

TEST_F(MetricsHttpTest, RootPointsToMetricsAndQueryStringIsIgnored) {
  Start();
  HttpResponse root = Request("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(root.status, 200);
  EXPECT_NE(root.body.find("/metrics"), std::string::npos);
  EXPECT_EQ(root.headers["Content-Length"], std::to_string(root.body.size()));
  EXPECT_EQ(renders_, 0);
  EXPECT_EQ(Request("GET /metrics?name[]=x HTTP/1.1\r\n\r\n").body, body_);
}

TEST_F(MetricsHttpTest, OtherPathsAre404) {
  Start();
  HttpResponse r = Request("GET /metric HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers["Content-Length"], std::to_string(r.body.size()));
  EXPECT_EQ(Request("GET /metrics/x HTTP/1.1\r\n\r\n").status, 404);
  EXPECT_EQ(renders_, 0);
}

TEST_F(MetricsHttpTest, OtherMethodsAre405WithAllow) {
  Start();
  HttpResponse r = Request("POST /metrics HTTP/1.1\r\nContent-Length: 5\r\nHost: x\r\n\r\nhello");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD");
  EXPECT_EQ(Request("DELETE / HTTP/1.1\r\n\r\n").status, 405);
  EXPECT_EQ(renders_, 0);
}

TEST_F(MetricsHttpTest, MalformedRequestLineIs400) {
  Start();
  EXPECT_EQ(Request("GET\r\n\r\n").status, 400);
  EXPECT_EQ(Request("GET /metrics\r\n\r\n").status, 400);
  EXPECT_EQ(Request("GET /metrics SPDY/3\r\n\r\n").status, 400);
}

TEST_F(MetricsHttpTest, HeadOverLimitIs431AndNotRendered) {
  Start();
  const std::string big =
      "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(9 * 1024, 'a') + "\r\n\r\n";
  HttpResponse r = Request(big);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(renders_, 0);
}

TEST_F(MetricsHttpTest, HeadOfExactlyTheLimitIsServed) {
  Start();
  const std::string start = "GET /metrics HTTP/1.1\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const std::string head = start + std::string(8 * 1024 - start.size() - end.size(), 'a') + end;
  ASSERT_EQ(head.size(), 8u * 1024);
  EXPECT_EQ(Request(head).status, 200);
  EXPECT_EQ(Request(head.substr(0, head.size() - 2) + "a" + end).status, 431);  // One over.
}

TEST_F(MetricsHttpTest, HeadSplitAcrossWritesIsServed) {
  Start();
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET /metrics HTTP/1.1\r\nHost: x\r"));
  std::this_thread::sleep_for(50ms);  // The empty line straddles two reads.
  ASSERT_TRUE(client.Send("\n\r"));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(client.Send("\n"));
  HttpResponse r = ParseResponse(client.ReadAll());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body_);
}

TEST_F(MetricsHttpTest, SilentClientIsClosedAfterTheTimeout) {
  MetricsServerLimits limits;
  limits.timeout = 300ms;
  Start(limits);
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  const auto start = Clock::now();
  EXPECT_EQ(client.ReadAll(), "");
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(client.closed());
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(MetricsHttpTest, TwoRequestsInSequence) {
  Start();
  EXPECT_EQ(Request("GET /metrics HTTP/1.1\r\n\r\n").body, body_);
  EXPECT_EQ(Request("GET /metrics HTTP/1.1\r\n\r\n").body, body_);
  EXPECT_EQ(renders_, 2);
}

TEST_F(MetricsHttpTest, RenderFailureIs500) {
  Start();
  fail_render_ = true;
  EXPECT_EQ(Request("GET /metrics HTTP/1.1\r\n\r\n").status, 500);
  fail_render_ = false;
  EXPECT_EQ(Request("GET /metrics HTTP/1.1\r\n\r\n").status, 200);
}

TEST_F(MetricsHttpTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  MetricsServerLimits limits;
  limits.max_connections = 1;
  limits.timeout = 4s;
  Start(limits);
  Client first(server_->port());  // Accepted first; holds the only slot, silent.
  ASSERT_TRUE(first.connected());
  Client second(server_->port());
  ASSERT_TRUE(second.connected());
  const auto start = Clock::now();
  EXPECT_EQ(second.ReadAll(), "");
  EXPECT_TRUE(second.closed());
  EXPECT_LT(Clock::now() - start, 2s) << "closed at once, not after the timeout";
  // The first is still served.
  ASSERT_TRUE(first.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(ParseResponse(first.ReadAll()).body, body_);
}

TEST_F(MetricsHttpTest, StopClosesConnectionsAndTheListener) {
  MetricsServerLimits limits;
  limits.timeout = 10s;
  Start(limits);
  const std::uint16_t port = server_->port();
  Client silent(port);
  ASSERT_TRUE(silent.connected());
  EXPECT_EQ(Request("GET / HTTP/1.1\r\n\r\n").status, 200);  // So `silent` was accepted.
  const auto start = Clock::now();
  server_->Stop();
  EXPECT_EQ(silent.ReadAll(), "");
  EXPECT_TRUE(silent.closed());
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_FALSE(Client(port).connected());
}

TEST(MetricsListenTest, ErrorsNameTheAddress) {
  asio::io_context io;
  config::SocketAddress address;
  address.host = "127.0.0.1";
  auto first = MetricsServer::Listen(io.get_executor(), address, [] { return std::string(); });
  ASSERT_TRUE(first.ok()) << first.error().message;
  address.port = (*first)->port();
  auto second = MetricsServer::Listen(io.get_executor(), address, [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("127.0.0.1:" + std::to_string(address.port)),
            std::string::npos)
      << second.error().message;

  config::SocketAddress unix_address;
  unix_address.kind = config::SocketAddress::Kind::kUnix;
  unix_address.path = "/tmp/longlink-metrics.sock";
  auto unix_server =
      MetricsServer::Listen(io.get_executor(), unix_address, [] { return std::string(); });
  ASSERT_FALSE(unix_server.ok());
  EXPECT_NE(unix_server.error().message.find("/tmp/longlink-metrics.sock"), std::string::npos);
}

}  // namespace
}  // namespace longlink::admin
