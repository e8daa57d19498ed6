// libFuzzer target: control messages (JSON text frames from the network). Whatever decodes must
// encode again and decode to the same message type: the server only ever relays what it can parse.
// Whatever is refused is refused with a code docs/PROTOCOL.md gives the decoder: a decoding code,
// or bad_name / bad_room_code for a join whose name / room code is over its byte limit (the codes
// the server answers with, and on which it closes 1008), and for nothing else.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ptt/protocol.hpp"

namespace proto = ptt::protocol;

namespace {

// Is `member` of this join a string over `limit` bytes?
bool join_member_over(const nlohmann::json& j, const char* member, std::size_t limit) {
  auto it = j.find(member);
  return it != j.end() && it->is_string() && it->get_ref<const std::string&>().size() > limit;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  proto::ControlMessage msg;
  std::string detail;
  const auto code = proto::decode_control(text, msg, &detail);
  switch (code) {
    case proto::ErrorCode::ok:
      break;
    case proto::ErrorCode::too_large:
    case proto::ErrorCode::bad_utf8:
    case proto::ErrorCode::malformed_json:
    case proto::ErrorCode::unknown_type:
    case proto::ErrorCode::missing_field:
    case proto::ErrorCode::bad_field:
    case proto::ErrorCode::bad_version:
      return 0;
    case proto::ErrorCode::bad_name:
    case proto::ErrorCode::bad_room_code: {
      const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) __builtin_trap();
      const auto type = j.find("type");
      if (type == j.end() || !type->is_string() || type->get_ref<const std::string&>() != "join") __builtin_trap();
      const bool over = code == proto::ErrorCode::bad_name ? join_member_over(j, "name", proto::kMaxNameBytes)
                                                           : join_member_over(j, "room", proto::kMaxRoomCodeBytes);
      if (!over) __builtin_trap();
      return 0;
    }
    default:
      __builtin_trap();  // a session code the decoder has no business returning
  }
  const std::string again = proto::encode_control(msg);
  proto::ControlMessage round;
  if (proto::decode_control(again, round) != proto::ErrorCode::ok) __builtin_trap();
  if (round.index() != msg.index() || proto::encode_control(round) != again) __builtin_trap();
  return 0;
}
