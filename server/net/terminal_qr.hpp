// A QR code of a URL drawn with Unicode half blocks, so a student can point a phone at the
// professor's terminal instead of typing an address.
#pragma once

#include <string>

namespace ptt::server {

// Returns the drawing (several lines), or an empty string if the text cannot be encoded.
// `colours`: pin white on black with ANSI escapes, so the code reads the right way round on light
// terminal themes too (for a terminal; not for a pipe or a log file).
std::string terminal_qr(const std::string& text, bool colours = false);

// The same code as an SVG image (dark modules on white, a 4-module quiet zone), for the console's
// join view on the classroom projector; empty if the text cannot be encoded.
std::string svg_qr(const std::string& text);

}  // namespace ptt::server
