#include "fail.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/error.hpp>
#include <chrono>
#include <mutex>

namespace ptt::server {
namespace {

// One line per 5 s at most, with how many it stands for: a client failing handshakes in a loop
// must not bury the professor's terminal.
bool handshake_line_due(std::uint64_t& skipped) {
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point last{};
  static std::uint64_t held = 0;
  std::lock_guard lock(mutex);
  const auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{} && now - last < std::chrono::seconds(5)) {
    ++held;
    return false;
  }
  last = now;
  skipped = held;
  held = 0;
  return true;
}

}  // namespace

void fail(boost::system::error_code ec, char const* what, std::string_view tls_peer) {
  // A handshake cut short by the server's own shutdown is not the client's doing.
  if (!tls_peer.empty() && ec != boost::asio::error::operation_aborted) {
    if (std::uint64_t skipped = 0; handshake_line_due(skipped))
      spdlog::info("TLS handshake with {} failed (the browser may have refused the certificate): {}{}", tls_peer,
                   ec.message(), skipped ? fmt::format(" (and {} more since the last such line)", skipped) : std::string());
    return;
  }
  if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("{}: {}", what, ec.message());
}

}  // namespace ptt::server
