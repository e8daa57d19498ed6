#include "recording_names.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "ptt/text.hpp"

namespace ptt::server {
namespace fs = std::filesystem;

namespace {

bool windows_device_name(std::string_view stem) {
  std::string upper;
  for (char c : stem.substr(0, stem.find('.'))) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  while (!upper.empty() && upper.back() == ' ') upper.pop_back();
  static const std::array<std::string_view, 4> plain = {"CON", "PRN", "AUX", "NUL"};
  if (std::find(plain.begin(), plain.end(), upper) != plain.end()) return true;
  return upper.size() == 4 && (upper.starts_with("COM") || upper.starts_with("LPT")) && upper[3] >= '0' && upper[3] <= '9';
}

}  // namespace

std::string safe_file_stem(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const text::CodePoint c = text::decode_utf8(name, i);
    const std::size_t n = std::max<std::size_t>(c.size, 1);  // an invalid byte is taken alone
    std::string_view piece = "_";  // for an invalid byte, a control character, a line break or a reserved one
    if (c.size != 0) {
      if (text::is_invisible(c.value)) {
        piece = {};  // bidi controls and zero-width characters: U+202E would reverse the name's display
      } else if (text::is_horizontal_space(c.value)) {
        piece = " ";  // so that a no-break space at either end is trimmed like a space
      } else if (!text::is_control(c.value) && !text::is_line_break(c.value) &&
                 !(c.value < 0x80 && std::strchr("<>:\"/\\|?*", static_cast<int>(c.value)) != nullptr)) {
        piece = name.substr(i, n);
      }
    }
    i += n;
    // Nothing may start the stem with a dot (a hidden file), a space, a dash (a file name that
    // reads as an option to a command given it), or = + @ (a spreadsheet formula in index.csv,
    // where the name must appear as it is): those go as they come.
    if (out.empty() && (piece == "." || piece == " " || piece == "-" || piece == "=" || piece == "+" || piece == "@")) continue;
    // Cut at a whole character, before trimming the end, so the trim sees the stem's real end.
    if (out.size() + piece.size() > kMaxFileStemBytes) break;
    out.append(piece);
  }
  auto trim = [](char c) { return c == '.' || c == ' '; };
  while (!out.empty() && trim(out.back())) out.pop_back();
  if (out.empty() || out.find_first_not_of('_') == std::string::npos) return "student";
  if (windows_device_name(out)) {
    out.insert(out.begin(), '_');  // the stem now starts with '_', whatever the cut below does
    // The prefix may push a full-length stem over: drop whole characters from the end.
    while (out.size() > kMaxFileStemBytes || trim(out.back())) out.resize(text::last_code_point_start(out));
  }
  return out;
}

unsigned next_serial(const fs::path& folder, const std::string& stem) {
  unsigned highest = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string file = entry.path().filename().string();
    const std::string prefix = stem + "-";
    if (!file.starts_with(prefix) || !file.ends_with(".opus")) continue;
    const std::string digits = file.substr(prefix.size(), file.size() - prefix.size() - 5);
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    highest = std::max(highest, static_cast<unsigned>(std::stoul(digits)));
  }
  return highest + 1;
}

fs::path create_recording_file(const fs::path& folder, const std::string& stem, int& fd, std::string& error) {
  fd = -1;
  const fs::path base = fs::weakly_canonical(folder);
  for (unsigned serial = next_serial(folder, stem), tries = 0; tries < 100; ++serial, ++tries) {
    const fs::path path = base / (stem + "-" + std::to_string(serial) + ".opus");
    if (path.parent_path() != base) {  // cannot happen with a safe stem; refuse rather than trust
      error = "recording name escapes the folder";
      return {};
    }
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return path;
    if (errno != EEXIST) {
      error = std::string("cannot create ") + path.string() + ": " + std::strerror(errno);
      return {};
    }
  }
  error = "no free serial for " + stem;
  return {};
}

}  // namespace ptt::server
