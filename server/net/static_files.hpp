// Which bytes a request path names: only the embedded table's, or (developer override) a regular
// file whose canonical path lies inside --web-root / --wasm-dir. A request path never becomes a
// filesystem path by itself: it is checked against a strict grammar first.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "web_assets.hpp"

namespace ptt::server {

enum class PathVerdict { ok, bad_request, not_found };

// The served path for a request target: "/" becomes "/index.html", the query and fragment go.
// Refused (bad_request): anything but an origin-form path of the bytes [A-Za-z0-9._-/], so
// percent-encoding, backslashes, NUL and controls, spaces and non-ASCII never get further; "//";
// a segment that starts with a dot ("..", ".", ".git"); more than 256 bytes.
PathVerdict clean_request_path(std::string_view target, std::string& path);

struct StaticFile {
  std::string_view content_type;
  std::string_view etag;    // empty: no validator (developer override)
  std::string_view bytes;
  bool gzip = false;        // bytes are the gzip representation
  std::shared_ptr<const std::string> owned;  // keeps a file read from disk alive
};

class StaticFiles {
 public:
  // web_root / wasm_dir empty: everything from the embedded table.
  explicit StaticFiles(std::span<const WebAsset> embedded, std::filesystem::path web_root = {},
                       std::filesystem::path wasm_dir = {});

  // accepts_gzip: the request's Accept-Encoding allows gzip.
  PathVerdict find(std::string_view target, bool accepts_gzip, StaticFile& out) const;
  bool overridden() const noexcept { return !web_root_.empty() || !wasm_dir_.empty(); }

 private:
  PathVerdict from_folder(const std::filesystem::path& root, std::string_view relative, StaticFile& out) const;

  std::span<const WebAsset> embedded_;
  std::filesystem::path web_root_, wasm_dir_;  // canonical, or empty
};

// Whether an Accept-Encoding value allows gzip (a "gzip" or "*" coding without q=0).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace ptt::server
