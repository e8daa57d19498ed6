// libFuzzer target: a student's name on its way to the display (normalise_display_name) and to a
// recording file name (safe_file_stem). The display name must not deceive: nothing invisible, no
// bidi control, no odd spacing, something visible. The file stem must never leave the recordings
// folder, hide, read as an option, or be something a file system refuses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ptt/protocol.hpp"
#include "ptt/text.hpp"
#include "recording_names.hpp"

namespace proto = ptt::protocol;
namespace text = ptt::text;

namespace {

void check_name(const std::string& name) {
  if (name.empty() || !text::is_valid_utf8(name)) __builtin_trap();
  if (name.front() == ' ' || name.back() == ' ' || name.find("  ") != std::string::npos) __builtin_trap();
  std::size_t count = 0;
  bool visible = false;
  for (std::size_t i = 0; i < name.size(); ++count) {
    const text::CodePoint c = text::decode_utf8(name, i);
    if (c.size == 0) __builtin_trap();
    i += c.size;
    if (text::is_invisible(c.value) || text::is_control(c.value) || text::is_line_break(c.value)) __builtin_trap();
    if (text::is_horizontal_space(c.value) && c.value != U' ') __builtin_trap();  // folded to U+0020
    visible = visible || (c.value != U' ' && !text::is_combining_mark(c.value));
  }
  if (!visible || count > proto::kMaxNameCodePoints) __builtin_trap();
  // Normalising a normalised name changes nothing (the client's and the server's passes agree).
  const auto again = proto::normalise_display_name(name);
  if (!again || *again != name) __builtin_trap();
}

void check_stem(const std::string& stem) {
  if (stem.empty() || stem.size() > ptt::server::kMaxFileStemBytes || !text::is_valid_utf8(stem)) __builtin_trap();
  if (stem.front() == '.' || stem.front() == ' ' || stem.front() == '-' || stem.back() == '.' || stem.back() == ' ')
    __builtin_trap();
  for (unsigned char c : stem)
    if (c < 0x20 || c == 0x7f || std::string_view("/\\<>:\"|?*").find(static_cast<char>(c)) != std::string_view::npos)
      __builtin_trap();
  for (std::size_t i = 0; i < stem.size();) {
    const text::CodePoint c = text::decode_utf8(stem, i);
    i += c.size;
    if (text::is_invisible(c.value) || text::is_control(c.value) || text::is_line_break(c.value)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  if (auto name = proto::normalise_display_name(raw)) {
    check_name(*name);
    check_stem(ptt::server::safe_file_stem(*name));  // what the recorder is given
  }
  check_stem(ptt::server::safe_file_stem(raw));
  return 0;
}
