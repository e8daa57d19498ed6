#include "terminal_qr.hpp"

#include <qrencode.h>

#include <memory>

namespace ptt::server {

namespace {
using QrPtr = std::unique_ptr<QRcode, decltype(&QRcode_free)>;
QrPtr encode(const std::string& text, QRecLevel level) {
  return QrPtr(QRcode_encodeString(text.c_str(), 0, level, QR_MODE_8, 1), &QRcode_free);
}
}  // namespace

std::string svg_qr(const std::string& text) {
  const auto qr = encode(text, QR_ECLEVEL_M);  // a projector's glare and a far seat: more redundancy
  if (!qr) return {};
  const int n = qr->width, quiet = 4, size = n + 2 * quiet;
  std::string path;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (qr->data[y * n + x] & 1) path += "M" + std::to_string(x + quiet) + " " + std::to_string(y + quiet) + "h1v1h-1z";
  const auto s = std::to_string(size);
  return R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 )" + s + " " + s +
         R"(" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d=")" + path +
         R"("/></svg>)" + "\n";
}

std::string terminal_qr(const std::string& text, bool colours) {
  const auto qr = encode(text, QR_ECLEVEL_L);
  if (!qr) return {};
  const int n = qr->width, quiet = 2;
  // Light modules are drawn (text colour), dark ones left blank (background); two rows of modules
  // per line of text. Without `colours` this is right on dark themes only.
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= n || y >= n) return false;
    return (qr->data[y * n + x] & 1) != 0;
  };
  std::string out;
  for (int y = -quiet; y < n + quiet; y += 2) {
    if (colours) out += "\x1b[97;40m";
    for (int x = -quiet; x < n + quiet; ++x) {
      const bool top = !dark(x, y), bottom = y + 1 < n + quiet && !dark(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    if (colours) out += "\x1b[0m";
    out += '\n';
  }
  return out;
}

}  // namespace ptt::server
