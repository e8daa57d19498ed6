// A real WebSocket client for the integration tests: its own io_context, plain or TLS, reads
// with a timeout, answers the server's pings unless told not to.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ptt/protocol.hpp"

namespace ptt::server::test {

struct Received {
  enum Kind { text, binary, closed, timeout } kind = timeout;
  std::string data;               // text or binary payload
  std::uint16_t close_code = 0;   // when closed
};

class WsTestClient {
 public:
  struct Options {
    bool tls = false;
    std::string origin;          // empty: no Origin header (a non-browser client)
    std::string target = "/ws";
    int receive_buffer = 0;      // SO_RCVBUF before connecting (a slow reader's small window); 0: the system's
  };
  // Connects and upgrades; throws boost::system::system_error if the upgrade is refused.
  WsTestClient(std::uint16_t port, Options options);
  ~WsTestClient();

  void send(const protocol::ControlMessage& msg);
  void send_text(const std::string& text);
  void send_binary(const std::vector<std::uint8_t>& bytes);
  Received read(std::chrono::milliseconds timeout);
  // Reads until a message of type T (answering pings, remembering floor states); nullopt on timeout/close.
  template <typename T>
  std::optional<T> expect(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto m = read_until([](const protocol::ControlMessage& m) { return std::holds_alternative<T>(m); }, timeout);
    if (!m) return std::nullopt;
    return std::get<T>(*m);
  }
  // Reads until any message satisfying pred; nullopt on timeout or close.
  template <typename Pred>
  std::optional<protocol::ControlMessage> read_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = next_control(left);
      if (!m) return std::nullopt;
      if (pred(*m)) return m;
    }
  }
  // Reads until the server closes; returns its close code (0 on timeout).
  std::uint16_t wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void close();
  // Drops the TCP connection without a close frame (a vanished network).
  void abort();

  bool answer_pings = true;
  std::optional<protocol::FloorState> last_floor;
  std::optional<std::uint16_t> closed_with;

 private:
  std::optional<protocol::ControlMessage> next_control(std::chrono::milliseconds timeout);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Joins with a name; returns the welcome (throws std::runtime_error if none comes).
protocol::Welcome join(WsTestClient& c, const std::string& name, const std::string& room = "");

}  // namespace ptt::server::test

namespace ptt::server::test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::string location;
  std::string content_type;
};
// One HTTP/1.1 request over plain TCP or TLS; `raw_target` is sent as is (no normalisation).
// `host`: the Host header (default localhost:<port>).
HttpResult http_request(std::uint16_t port, bool tls, const std::string& method, const std::string& raw_target,
                        const std::string& authorization = "", const std::string& host = "");

}  // namespace ptt::server::test
