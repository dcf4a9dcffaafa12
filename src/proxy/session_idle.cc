// The care of a session's held backend while its client is idle (ClientSession::OnSweep and
// what it starts): keepalive pings, the watched set, a backend the server ended, and the
// client's own wait_timeout. See client_session.h.
#include <algorithm>

#include "common/log.h"
#include "common/log_rate_limit.h"
#include "common/log_text.h"
#include "proxy/client_session.h"

namespace longlink::proxy {

pool::Clock::time_point ClientSession::OnSweep(pool::Clock::time_point now) {
  constexpr pool::Clock::time_point kEveryPass = {};
  pool::Clock::time_point next = pool::Clock::time_point::max();
  if (client_.reading_since() != pool::Clock::time_point{}) {
    const pool::Clock::time_point stalled_at =
        client_.reading_since() + context_.config().proxy.net_read_timeout;
    if (now >= stalled_at) {
      static LogRateLimit stalled;
      if (auto note = stalled.Admit(now); note.write) {
        Log(LogLevel::kInfo, id_,
            "closing client {}: it stopped in the middle of a packet for {} ms "
            "(proxy.net_read_timeout){}",
            peer_host_, context_.config().proxy.net_read_timeout.count(), note.suffix);
      }
      client_.Shutdown();  // The pending read sees the end.
      return kEveryPass;
    }
    next = stalled_at;
  }
  if (!idle_waiting_) return kEveryPass;  // A command in progress.
  if (client_wait_timeout_.count() > 0) {
    const pool::Clock::time_point timed_out_at = idle_since_ + client_wait_timeout_;
    if (now >= timed_out_at) {
      Log(LogLevel::kInfo, id_, "closing client {}: idle longer than its wait_timeout ({} s)",
          peer_host_, client_wait_timeout_.count());
      client_.Abort();  // As the server does; WaitIdle's read ends, Run releases the backend.
      return kEveryPass;
    }
    next = std::min(next, timed_out_at);
  }
  if (!backend_.held() || maintenance_due_) return next;
  const pool::BackendState& state = backend_->state();
  const pool::Clock::time_point ping_at =
      state.last_alive_at + context_.pools().KeepaliveInterval(state);
  if (now >= ping_at) {
    WakeForMaintenance();
    return kEveryPass;
  }
  next = std::min(next, ping_at);
  if (!backend_watched_) {
    const pool::Clock::time_point watch_at = state.heard_at() + WorkerSessions::kWatchAfter;
    if (now < watch_at) return std::min(next, watch_at);
    backend_watched_ = sessions_.Watch(id_, backend_->stream());
    if (!backend_watched_) {  // Without the watched set (epoll refused), a poll on each pass.
      if (backend_->PeerClosedOrSpoke()) WakeForMaintenance();
      return kEveryPass;
    }
  }
  return next;
}

void ClientSession::OnBackendReadable() {
  StopWatchingBackend();
  if (idle_waiting_ && backend_.held() && !maintenance_due_) WakeForMaintenance();
}

void ClientSession::StopWatchingBackend() {
  if (!backend_watched_) return;
  sessions_.Unwatch(backend_->stream());
  backend_watched_ = false;
}

void ClientSession::WakeForMaintenance() {
  maintenance_due_ = true;
  client_.Cancel();  // Ends WaitIdle's read; Run runs MaintainIdleBackend.
}

net::Awaitable<void> ClientSession::MaintainIdleBackend() {
  if (backend_->PeerClosedOrSpoke()) {
    LoseIdleBackend();
    co_return;
  }
  auto alive = co_await backend_->Ping(context_.config().backend.connect_timeout);
  if (!alive.ok()) LoseBackend("keepalive ping failed: " + alive.error().message);
}

void ClientSession::LoseIdleBackend() {
  const net::ByteStream& stream = backend_->stream();
  LoseBackend(pool::IdleSocketNews(stream), pool::IdleSocketError(stream),
              pool::IdleSocketWasReset(stream));
}

void ClientSession::LoseBackend(const std::string& why,
                                std::optional<protocol::ErrPacket> server_error, bool reset) {
  const std::uint32_t thread = backend_.thread_id();
  const bool said_why = server_error.has_value();
  backend_.Lose(state_, std::move(server_error),
                statements_ ? statements_->hold() : PinReason::kNone);
  if (backend_.lost_pinned() && !said_why) {
    Log(LogLevel::kInfo, id_,
        "backend connection {} lost while the client was idle: {}; its session state is gone: "
        "{} the client connection, as the server did",
        thread, why, reset ? "resetting" : "closing");
    backend_.ForgetLoss();
    if (reset) {
      client_.Abort();
    } else {
      client_.Shutdown();
    }
    return;
  }
  Log(LogLevel::kInfo, id_,
      "backend connection {} lost while the client was idle: {}; session state {}{}", thread, why,
      backend_.lost_pinned() ? "pinned" : "clean",
      backend_.lost_pinned() ? ": the next command gets ERR 1927"
                             : ": a fresh connection takes over at the next command");
}

}  // namespace longlink::proxy
