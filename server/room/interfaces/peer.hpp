// What the room needs of a connected client: send a text frame, close. Implemented by the
// WebSocket session (and by fakes in tests). Both calls are thread-safe and never block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ptt::server {

class Peer {
 public:
  virtual ~Peer() = default;
  virtual void send(std::shared_ptr<const std::string> text) = 0;
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
};

// WebSocket close codes the server uses (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t bad_payload = 1007;
inline constexpr std::uint16_t policy = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

}  // namespace ptt::server
