// The project's own load generator: many students' WebSocket connections (TLS, as browsers use)
// on one io_context, each joining, answering the server's pings and timing the replies it gets.
// Loopback only: the bench starts the server it talks to.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "ptt/protocol.hpp"

namespace ptt::bench {

using Clock = std::chrono::steady_clock;

class LoadClient : public std::enable_shared_from_this<LoadClient> {
 public:
  // What a client last heard, and when (steady clock), for the bench to read between run steps.
  struct Seen {
    bool joined = false, failed = false, closed = false;
    std::string name;                 // the name the server gave us
    Clock::time_point granted_at{}, denied_at{}, state_taken_at{}, state_free_at{};
    std::uint32_t talk_id = 0;        // of our grant
    protocol::DenyReason deny_reason{};
    std::string deny_holder;
    std::uint64_t floor_states = 0;
  };

  LoadClient(boost::asio::io_context& ioc, boost::asio::ssl::context& tls, std::uint16_t port, std::string name);
  ~LoadClient();
  // Connects, upgrades and joins; Seen::joined (or failed) tells when it is done.
  void start();
  void send(const protocol::ControlMessage& msg);
  void close();
  const Seen& seen() const { return seen_; }
  Seen& seen() { return seen_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Seen seen_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  void read();
  void write_next();
  void on_text(const std::string& text);
  void fail();
};

}  // namespace ptt::bench
