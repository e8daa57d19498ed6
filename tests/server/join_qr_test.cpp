// The join QR codes, read back by an independent decoder (zbarimg): the terminal's half-block
// drawing and the console's SVG each carry exactly the address students are given.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "terminal_qr.hpp"

namespace ptt::server {
namespace {

namespace fs = std::filesystem;
using Bitmap = std::vector<std::vector<bool>>;  // true: dark module

// As a PBM image (1 is black), each module `scale` pixels, with a white margin.
std::string decode(const Bitmap& modules) {
  const int scale = 6, margin = 4 * scale;
  const int rows = static_cast<int>(modules.size()), cols = static_cast<int>(modules.at(0).size());
  const fs::path file = fs::temp_directory_path() / ("ptt-qr-" + std::to_string(::getpid()) + ".pbm");
  {
    std::ofstream out(file);
    out << "P1\n" << cols * scale + 2 * margin << " " << rows * scale + 2 * margin << "\n";
    for (int y = -margin; y < rows * scale + margin; ++y) {
      for (int x = -margin; x < cols * scale + margin; ++x) {
        const bool inside = x >= 0 && y >= 0 && x < cols * scale && y < rows * scale;
        out << (inside && modules[y / scale][x / scale] ? '1' : '0');
      }
      out << '\n';
    }
  }
  std::string text;
  if (FILE* p = ::popen(("zbarimg --raw -q " + file.string() + " 2>/dev/null").c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) text += buf;
    ::pclose(p);
  }
  fs::remove(file);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// The drawing back into modules: a full block is two light modules, an upper or lower half one,
// a space none (the terminal's text colour is light, its background dark).
Bitmap from_terminal(const std::string& drawing) {
  Bitmap rows;
  std::size_t at = 0;
  while (at < drawing.size()) {
    const auto end = drawing.find('\n', at);
    std::string line = drawing.substr(at, end - at);
    at = end == std::string::npos ? drawing.size() : end + 1;
    for (const char* esc : {"\x1b[97;40m", "\x1b[0m"})
      for (auto p = line.find(esc); p != std::string::npos; p = line.find(esc)) line.erase(p, std::string(esc).size());
    std::vector<bool> top, bottom;
    for (std::size_t i = 0; i < line.size();) {
      if (line[i] == ' ') {
        top.push_back(true), bottom.push_back(true), ++i;
        continue;
      }
      const std::string glyph = line.substr(i, 3);  // U+2588, U+2580, U+2584: 3 bytes in UTF-8
      top.push_back(glyph == "\u2584");
      bottom.push_back(glyph == "\u2580");
      i += 3;
    }
    rows.push_back(top);
    rows.push_back(bottom);
  }
  return rows;
}

// The SVG's dark squares ("M x y h1v1h-1z") back into modules.
Bitmap from_svg(const std::string& svg) {
  const auto box = svg.find("viewBox=\"0 0 ");
  const int size = std::stoi(svg.substr(box + 13));
  Bitmap modules(size, std::vector<bool>(size, false));
  for (auto p = svg.find('M'); p != std::string::npos; p = svg.find('M', p + 1)) {
    int x = 0, y = 0;
    if (std::sscanf(svg.c_str() + p, "M%d %dh1v1h-1z", &x, &y) == 2 && x < size && y < size) modules[y][x] = true;
  }
  return modules;
}

bool have_zbarimg() { return std::system("command -v zbarimg >/dev/null 2>&1") == 0; }

TEST(JoinQr, TheTerminalsDrawingReadsAsTheAddressWithOrWithoutColours) {
  ASSERT_TRUE(have_zbarimg()) << "zbarimg (zbar-tools) is not installed: ./scripts/setup installs it";
  const std::string url = "http://192.168.1.20:8443/?room=4711";
  for (bool colours : {false, true}) {
    const auto drawing = terminal_qr(url, colours);
    ASSERT_FALSE(drawing.empty());
    if (colours) EXPECT_EQ(drawing.rfind("\x1b[97;40m", 0), 0u) << "white on black, whatever the theme";
    else EXPECT_EQ(drawing.find('\x1b'), std::string::npos) << "no escapes into a pipe or a log";
    EXPECT_EQ(decode(from_terminal(drawing)), url) << drawing;
  }
}

TEST(JoinQr, TheConsolesSvgReadsAsTheAddress) {
  ASSERT_TRUE(have_zbarimg()) << "zbarimg (zbar-tools) is not installed: ./scripts/setup installs it";
  const std::string url = "http://10.0.0.7:8443/";
  const auto svg = svg_qr(url);
  ASSERT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_EQ(decode(from_svg(svg)), url);
  // A decoder that read anything would pass the above: a different address reads differently.
  EXPECT_EQ(decode(from_svg(svg_qr("http://10.0.0.8:8443/"))), "http://10.0.0.8:8443/");
}

}  // namespace
}  // namespace ptt::server
