#include "terminal_qr.hpp"

#include <qrencode.h>

#include <memory>

namespace ptt::server {

std::string terminal_qr(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1), &QRcode_free);
  if (!qr) return {};
  const int n = qr->width, quiet = 2;
  // Light modules are drawn (terminal text is light on most themes), dark ones left blank; two
  // rows of modules per line of text.
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= n || y >= n) return false;
    return (qr->data[y * n + x] & 1) != 0;
  };
  std::string out;
  for (int y = -quiet; y < n + quiet; y += 2) {
    for (int x = -quiet; x < n + quiet; ++x) {
      const bool top = !dark(x, y), bottom = y + 1 < n + quiet && !dark(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

}  // namespace ptt::server
