#include "static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace ptt::server {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPathBytes = 256;
constexpr std::size_t kMaxOverrideFileBytes = 64 << 20;
constexpr std::string_view kWasmPrefix = "/wasm/";

bool allowed_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '/';
}

// Only for the developer override: the embedded table's types are decided at build time.
std::string_view type_by_extension(std::string_view path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 8> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [ext, type] : types)
    if (path.ends_with(ext)) return type;
  return "application/octet-stream";
}

fs::path canonical_folder(const fs::path& folder) {
  if (folder.empty()) return {};
  return fs::canonical(folder);  // throws with the reason when it does not exist
}

// Reads a regular file without following a symlink in its last component (the canonical path has
// none; this closes the gap between the check and the open).
std::shared_ptr<const std::string> read_regular_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return nullptr;
  struct stat st {};
  std::shared_ptr<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) <= kMaxOverrideFileBytes) {
    out = std::make_shared<std::string>(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < out->size()) {
      const auto n = ::read(fd, out->data() + got, out->size() - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    out->resize(got);
  }
  ::close(fd);
  return out;
}

}  // namespace

PathVerdict clean_request_path(std::string_view target, std::string& path) {
  const auto end = target.find_first_of("?#");
  if (end != std::string_view::npos) target = target.substr(0, end);
  if (target.empty() || target.front() != '/' || target.size() > kMaxPathBytes) return PathVerdict::bad_request;
  if (!std::all_of(target.begin(), target.end(), allowed_byte)) return PathVerdict::bad_request;
  for (std::size_t i = 1; i <= target.size(); ++i) {
    // Each segment starts after a '/': an empty one is "//", a dotted one ".", ".." or hidden.
    if (target[i - 1] != '/') continue;
    if (i < target.size() && (target[i] == '/' || target[i] == '.')) return PathVerdict::bad_request;
  }
  path = target == "/" ? std::string("/index.html") : std::string(target);
  return PathVerdict::ok;
}

bool accepts_gzip(std::string_view value) {
  // Comma-separated codings, each with optional parameters: "gzip, deflate;q=0.5, br".
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    const auto semi = item.find(';');
    std::string_view coding = item.substr(0, semi), params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
    auto trim = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
      return s;
    };
    coding = trim(coding);
    std::string lower;
    for (char c : coding) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "gzip" && lower != "x-gzip" && lower != "*") continue;
    params = trim(params);
    std::string p;
    for (char c : params)
      if (c != ' ' && c != '\t') p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // q=0, q=0.0, q=0.000: refused explicitly.
    if (p.starts_with("q=0") && p.find_first_not_of("0.", 2) == std::string::npos) continue;
    return true;
  }
  return false;
}

StaticFiles::StaticFiles(std::span<const WebAsset> embedded, fs::path web_root, fs::path wasm_dir)
    : embedded_(embedded), web_root_(canonical_folder(web_root)), wasm_dir_(canonical_folder(wasm_dir)) {}

PathVerdict StaticFiles::find(std::string_view target, bool gzip_ok, StaticFile& out) const {
  std::string path;
  if (const auto verdict = clean_request_path(target, path); verdict != PathVerdict::ok) return verdict;
  const bool wasm = path.starts_with(kWasmPrefix);
  if (wasm && !wasm_dir_.empty()) return from_folder(wasm_dir_, std::string_view(path).substr(kWasmPrefix.size()), out);
  if (!wasm && !web_root_.empty()) return from_folder(web_root_, std::string_view(path).substr(1), out);
  for (const auto& asset : embedded_) {
    if (asset.url != path) continue;
    out = StaticFile{};
    out.content_type = asset.content_type;
    out.gzip = gzip_ok && !asset.gzip.empty();
    out.bytes = out.gzip ? asset.gzip : asset.bytes;
    out.etag = out.gzip ? asset.gzip_etag : asset.etag;
    return PathVerdict::ok;
  }
  return PathVerdict::not_found;
}

PathVerdict StaticFiles::from_folder(const fs::path& root, std::string_view relative, StaticFile& out) const {
  if (relative.empty()) return PathVerdict::not_found;
  std::error_code ec;
  const fs::path file = fs::canonical(root / fs::path(relative), ec);
  if (ec) return PathVerdict::not_found;
  // Symlinks are resolved: what they lead to must still lie inside the root.
  const auto [r, f] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (r != root.end() || f == file.end()) return PathVerdict::not_found;
  auto bytes = read_regular_file(file);
  if (!bytes) return PathVerdict::not_found;
  out = StaticFile{};
  out.content_type = type_by_extension(relative);
  out.bytes = *bytes;
  out.owned = std::move(bytes);
  return PathVerdict::ok;
}

}  // namespace ptt::server
