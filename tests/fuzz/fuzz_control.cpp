// libFuzzer target: control messages (JSON text frames from the network). Whatever decodes must
// encode again and decode to the same message type: the server only ever relays what it can parse.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ptt/protocol.hpp"

namespace proto = ptt::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  proto::ControlMessage msg;
  std::string detail;
  if (proto::decode_control(text, msg, &detail) != proto::ErrorCode::ok) return 0;
  const std::string again = proto::encode_control(msg);
  proto::ControlMessage round;
  if (proto::decode_control(again, round) != proto::ErrorCode::ok) __builtin_trap();
  if (round.index() != msg.index() || proto::encode_control(round) != again) __builtin_trap();
  return 0;
}
