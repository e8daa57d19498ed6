// The files ptt-server serves, embedded at build time (cmake/EmbedWebAssets.cmake generates the
// table): the student page, its scripts and the wasm client. Nothing else is ever served from them.
#pragma once

#include <span>
#include <string_view>

namespace ptt::server {

struct WebAsset {
  std::string_view url;           // "/index.html", "/wasm/ptt_page.wasm"
  std::string_view content_type;
  std::string_view etag;          // quoted, of the bytes as stored
  std::string_view gzip_etag;     // quoted, of the gzip representation
  std::string_view bytes;
  std::string_view gzip;          // empty when compression would not save a tenth
};

// The table built into this binary (defined in the generated web_assets.cpp).
std::span<const WebAsset> embedded_web_assets();

}  // namespace ptt::server
