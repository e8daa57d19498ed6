// libFuzzer target: a request as it arrives on the socket (request line, headers, path) parsed by
// Beast and answered by the real router, against the embedded page and against a developer folder
// with a secret beside it and symlinks inside it leading out. Whatever the bytes, a 200 carries
// exactly one served file (or its gzip copy) and never a byte of the secret; the plain-HTTP help
// page and redirect go only to the server's own https origin.
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "http_router.hpp"
#include "web_assets.hpp"

namespace fs = std::filesystem;
using namespace ptt::server;

namespace {

struct World {
  fs::path dir = fs::temp_directory_path() / ("ptt-fuzz-http-" + std::to_string(::getpid()));
  std::set<std::string_view> served;
  std::unique_ptr<StaticFiles> embedded, folder;
  OriginPolicy origins{true, {"192.168.1.20"}, 8443, {}};

  World() {
    fs::remove_all(dir);
    fs::create_directories(dir / "web");
    fs::create_directories(dir / "wasm");
    std::ofstream(dir / "web" / "index.html") << "dev page";
    std::ofstream(dir / "wasm" / "ptt_page.wasm") << "dev wasm";
    std::ofstream(dir / "secret.txt") << "SECRET-BYTES";
    fs::create_symlink(dir / "secret.txt", dir / "web" / "out.txt");
    fs::create_symlink(dir, dir / "web" / "up");
    embedded = std::make_unique<StaticFiles>(embedded_web_assets());
    folder = std::make_unique<StaticFiles>(embedded_web_assets(), dir / "web", dir / "wasm");
    for (const auto& a : embedded_web_assets()) {
      served.insert(a.bytes);
      if (!a.gzip.empty()) served.insert(a.gzip);
    }
    served.insert("dev page");
    served.insert("dev wasm");
    served.insert("ok\n");  // /healthz
    served.insert("{\"code_required\":true}\n");  // /room.json
    served.insert("{\"code_required\":false}\n");
  }
  ~World() { fs::remove_all(dir); }
};

World& world() {
  static World w;
  return w;
}

void check(const Route& r) {
  if (r.kind != RouteKind::reply) return;
  const auto& body = r.reply.body();
  if (body.find("SECRET") != std::string::npos) __builtin_trap();
  if (r.reply.result() == boost::beast::http::status::ok && !body.empty() && !world().served.count(body))
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  World& w = world();
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);  // as the sessions set them
  parser.body_limit(8 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const auto n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!parser.is_done()) {
    // Not a whole request: still push the raw bytes through the path grammar as a target.
    std::string path;
    StaticFile file;
    (void)w.embedded->find(std::string_view(reinterpret_cast<const char*>(data), size), true, file);
    if (w.folder->find(std::string_view(reinterpret_cast<const char*>(data), size), false, file) == PathVerdict::ok &&
        file.bytes.find("SECRET") != std::string_view::npos)
      __builtin_trap();
    return 0;
  }
  const HttpRequest req = parser.release();
  check(route(req, RouterContext{*w.embedded, w.origins, "token"}));
  check(route(req, RouterContext{*w.folder, w.origins, ""}));
  // Plain HTTP on the TLS port: the help page links only to the server's own origin, and nothing
  // of the request but a safe room value reaches its HTML.
  auto own = [&](std::string_view url) {  // the https origin of a link is one of the server's own
    const auto slash = url.find('/', std::string_view("https://").size());
    return url.starts_with("https://") && slash != std::string_view::npos && w.origins.allows(url.substr(0, slash));
  };
  for (bool help : {true, false}) {
    const auto reply = plain_http_reply(req, RouterContext{*w.embedded, w.origins, ""}, help);
    const auto& body = reply.body();
    if (reply.result() == boost::beast::http::status::ok && req.method() == boost::beast::http::verb::head) {
      if (!body.empty()) __builtin_trap();  // a HEAD answer has headers only
    } else if (reply.result() == boost::beast::http::status::ok) {
      constexpr std::string_view go = "id=\"go\" href=\"";  // the link on to the class
      const auto at = body.find(go);
      if (!help || at == std::string::npos) __builtin_trap();
      const auto end = body.find('"', at + go.size());
      const std::string_view link = std::string_view(body).substr(at + go.size(), end - at - go.size());
      if (!own(link)) __builtin_trap();
      for (char c : link)
        if (c == '<' || c == '>' || c == '\'' || c == ' ') __builtin_trap();
    } else if (!own(reply[boost::beast::http::field::location])) {
      __builtin_trap();
    }
  }
  return 0;
}
