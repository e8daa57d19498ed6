// libFuzzer target: audio frame headers (binary frames from the network). A frame that decodes
// must re-encode to the very same bytes, and its Opus payload must lie inside the input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ptt/protocol.hpp"

namespace proto = ptt::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  proto::AudioFrameView frame;
  if (proto::decode_audio_frame(data, size, frame) != proto::ErrorCode::ok) return 0;
  if (frame.opus < data || frame.opus + frame.opus_size > data + size || frame.samples == 0) __builtin_trap();
  std::array<std::uint8_t, 2048> out{};
  const std::size_t n = proto::encode_audio_frame(frame.header, frame.opus, frame.opus_size, out.data(), out.size());
  if (n != size || std::memcmp(out.data(), data, size) != 0) __builtin_trap();
  return 0;
}
