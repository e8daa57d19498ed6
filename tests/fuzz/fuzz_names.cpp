// libFuzzer target: a student's name on its way to the display (normalise_display_name) and to a
// recording file name (safe_file_stem). The file stem must never leave the recordings folder, hide,
// or be something a file system refuses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ptt/protocol.hpp"
#include "recording_names.hpp"

namespace proto = ptt::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  if (auto name = proto::normalise_display_name(raw)) {
    if (name->empty() || !proto::is_valid_utf8(*name)) __builtin_trap();
  }
  const std::string stem = ptt::server::safe_file_stem(raw);
  if (stem.empty() || stem.size() > ptt::server::kMaxFileStemBytes || !proto::is_valid_utf8(stem)) __builtin_trap();
  if (stem == "." || stem == ".." || stem.front() == '.' || stem.front() == ' ' || stem.back() == '.' || stem.back() == ' ')
    __builtin_trap();
  for (unsigned char c : stem)
    if (c < 0x20 || c == 0x7f || std::string_view("/\\<>:\"|?*").find(static_cast<char>(c)) != std::string_view::npos)
      __builtin_trap();
  return 0;
}
