#include "recording_names.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "ptt/protocol.hpp"

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

// Length in bytes of the UTF-8 sequence at s[i], or 0 if it is not a valid one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  return protocol::is_valid_utf8(s.substr(i, n)) ? n : 0;
}

}  // namespace

std::string safe_file_stem(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    std::size_t n = utf8_length(name, i);
    std::string_view piece = "_";  // for an invalid byte, a control character or a reserved one
    if (n == 0) {
      n = 1;
    } else {
      const auto c = static_cast<unsigned char>(name[i]);
      const bool c1_control = n == 2 && c == 0xC2 && static_cast<unsigned char>(name[i + 1]) < 0xA0;
      if (!((n == 1 && (c < 0x20 || c == 0x7F || std::strchr("<>:\"/\\|?*", c) != nullptr)) || c1_control))
        piece = name.substr(i, n);
    }
    // Cut at a whole character, before trimming, so the trim sees the stem's real ends.
    if (out.size() + piece.size() > kMaxFileStemBytes) break;
    out.append(piece);
    i += n;
  }
  auto trim = [](char c) { return c == '.' || c == ' '; };
  while (!out.empty() && trim(out.front())) out.erase(out.begin());
  while (!out.empty() && trim(out.back())) out.pop_back();
  if (out.empty() || out.find_first_not_of('_') == std::string::npos) return "student";
  if (windows_device_name(out)) {
    out.insert(out.begin(), '_');
    // The prefix may push a full-length stem over: drop whole characters from the end.
    while (out.size() > kMaxFileStemBytes || trim(out.back())) {
      while ((static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
      out.pop_back();
    }
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
