#include "proxy/client_channel.h"

#include <asio/buffer.hpp>
#include <cstring>

#include "protocol/frame.h"

namespace longlink::proxy {

ClientChannel::ClientChannel(net::Socket socket, net::BufferPool& buffers)
    : executor_(socket.get_executor()), stream_(std::move(socket)), buffers_(buffers) {}

ClientChannel::~ClientChannel() { GiveBack(); }

net::IoBuffer& ClientChannel::in() {
  if (!in_) in_ = buffers_.Take();
  return *in_;
}

void ClientChannel::GiveBack() { buffers_.Give(std::move(in_)); }

void ClientChannel::Deliver(const std::uint8_t* bytes, std::size_t count) {
  net::IoBuffer& buffer = in();
  buffer.Reserve(buffer.size() + count);
  std::memcpy(buffer.Room().data(), bytes, count);
  buffer.Commit(count);
  traffic_.received += count;
}

net::Awaitable<bool> ClientChannel::Fill(std::size_t count) {
  net::IoBuffer& buffer = in();
  if (buffer.size() >= count) co_return true;
  buffer.Reserve(count);
  while (buffer.size() < count) {
    if (!co_await ReadSome()) co_return false;
  }
  co_return true;
}

net::Awaitable<bool> ClientChannel::FillExactly(std::size_t count) {
  net::IoBuffer& buffer = in();
  buffer.Reserve(count);
  while (buffer.size() < count) {  // Login only: its handshake_timeout bounds the wait.
    auto room = buffer.Room();
    auto [error, n] = co_await stream_.async_read_some(
        asio::buffer(room.data(), count - buffer.size()), net::kNoThrow);
    if (error || n == 0) co_return false;
    buffer.Commit(n);
    traffic_.received += n;
  }
  co_return true;
}

net::Awaitable<bool> ClientChannel::ReadSome() {
  net::IoBuffer& buffer = in();
  auto room = buffer.Room();
  const PartialRead partial(*this);
  auto [error, n] =
      co_await stream_.async_read_some(asio::buffer(room.data(), room.size()), net::kNoThrow);
  if (error || n == 0) co_return false;
  buffer.Commit(n);
  traffic_.received += n;
  co_return true;
}

net::Awaitable<net::PacketRead> ClientChannel::ReadPacket(std::size_t max_payload) {
  const PartialRead partial(*this);
  net::IoBuffer& buffer = in();
  const std::size_t before = buffer.size();
  net::PacketRead read = co_await net::ReadPacket(stream_, buffer, max_payload);
  // What it consumed (the packet, framed) and what it left.
  const std::size_t consumed = read.ok() ? protocol::FramedSize(read.packet.payload.size()) : 0;
  if (buffer.size() + consumed >= before) traffic_.received += buffer.size() + consumed - before;
  co_return read;
}

net::Awaitable<bool> ClientChannel::DropPacket(std::size_t max_payload) {
  auto read = co_await ReadPacket(max_payload);
  co_return read.ok();
}

net::Awaitable<bool> ClientChannel::Send(const protocol::Bytes& payload, std::uint8_t sequence) {
  auto sent = co_await net::WritePacket(stream_, payload, sequence);
  if (sent.ok()) traffic_.sent += protocol::FramedSize(payload.size());
  co_return sent.ok();
}

net::Awaitable<bool> ClientChannel::SendError(const protocol::ErrPacket& error,
                                              std::uint8_t sequence) {
  const protocol::Bytes payload =
      protocol::Encode(error, capabilities_ | protocol::capability::kProtocol41);
  ++errors_sent_;
  co_return co_await Send(payload, sequence);
}

net::Awaitable<bool> ClientChannel::SendOk(std::uint16_t status_flags, std::uint8_t sequence) {
  protocol::OkPacket ok;
  ok.status_flags =
      status_flags & static_cast<std::uint16_t>(~protocol::status::kSessionStateChanged);
  const protocol::Bytes payload = protocol::Encode(ok, capabilities_);
  co_return co_await Send(payload, sequence);
}

void ClientChannel::Shutdown() { stream_.Shutdown(); }

void ClientChannel::Abort() {
  if (stream_.attached()) {
    std::error_code ignored;
    stream_.lowest_layer().set_option(asio::socket_base::linger(true, 0), ignored);
  }
  stream_.Close();
}

void ClientChannel::Cancel() { stream_.Cancel(); }

void ClientChannel::Close() { stream_.Close(); }

}  // namespace longlink::proxy
