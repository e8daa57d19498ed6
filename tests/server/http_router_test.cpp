// The HTTP side without sockets: the request-path grammar, the embedded page as built into
// ptt-server, the developer override's confinement to its folder, and what the router answers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "hostile_paths.hpp"
#include "http_router.hpp"
#include "web_assets.hpp"

namespace ptt::server::test {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

HttpRequest get(std::string_view target, std::string_view accept_encoding = {}) {
  HttpRequest req{http::verb::get, target, 11};
  if (!accept_encoding.empty()) req.set(http::field::accept_encoding, accept_encoding);
  return req;
}

// A folder the developer override serves, beside files it must never reach: a secret next to
// it, and symlinks inside it that lead out.
class StaticFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ptt-router-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "web" / "sub");
    fs::create_directories(dir_ / "wasm");
    std::ofstream(dir_ / "web" / "index.html") << "<!doctype html><title>dev page</title>";
    std::ofstream(dir_ / "web" / "sub" / "a.js") << "export const a = 1;";
    std::ofstream(dir_ / "wasm" / "ptt_page.wasm") << "dev-wasm";
    secret_ = dir_ / "secret.txt";
    std::ofstream(secret_) << "SECRET-BYTES: the professor's key";
    fs::create_symlink(secret_, dir_ / "web" / "link-out.txt");
    fs::create_symlink("/etc", dir_ / "web" / "etc-dir");
    fs::create_symlink(dir_, dir_ / "web" / "parent");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_, secret_;
};

TEST(RequestPath, OnlyPlainOriginFormPathsPass) {
  std::string path;
  EXPECT_EQ(clean_request_path("/", path), PathVerdict::ok);
  EXPECT_EQ(path, "/index.html");
  EXPECT_EQ(clean_request_path("/app.js?v=3#top", path), PathVerdict::ok);
  EXPECT_EQ(path, "/app.js");
  EXPECT_EQ(clean_request_path("/wasm/ptt_page.wasm", path), PathVerdict::ok);
  for (const char* bad : {"//etc/passwd", "/a//b", "/../x", "/.x", "/a/./b", "/a/../b", "/%2e", "/a\\b", "x",
                          "/a b", "/caf\xc3\xa9", "/a:b", "/a;b", "/~x", ""})
    EXPECT_EQ(clean_request_path(bad, path), PathVerdict::bad_request) << bad;
  EXPECT_EQ(clean_request_path(std::string("/a\0b", 4), path), PathVerdict::bad_request);
  EXPECT_EQ(clean_request_path("/" + std::string(300, 'a'), path), PathVerdict::bad_request);
}

TEST(AcceptEncoding, GzipUnlessRefused) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.8, br"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_TRUE(accepts_gzip(" GZIP "));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
}

TEST(EmbeddedPage, IsTheSourcePageByteForByteWithTypesTagsAndGzip) {
  const auto assets = embedded_web_assets();
  ASSERT_GE(assets.size(), 7u);
  for (const char* name : {"index.html", "app.js", "style.css", "session.js", "ptt-wasm.js", "capture-ring.js", "capture-worklet.js", "socket-worker.js"}) {
    const std::string url = std::string("/") + name;
    auto it = std::find_if(assets.begin(), assets.end(), [&](const WebAsset& a) { return a.url == url; });
    ASSERT_NE(it, assets.end()) << url;
    EXPECT_EQ(it->bytes, read_file(fs::path(PTT_SOURCE_DIR) / "web" / name)) << url;
    EXPECT_FALSE(it->gzip.empty()) << url << ": text compresses";
    EXPECT_LT(it->gzip.size(), it->bytes.size());
    EXPECT_NE(it->etag, it->gzip_etag);
  }
  auto wasm = std::find_if(assets.begin(), assets.end(), [](const WebAsset& a) { return a.url == "/wasm/ptt_page.wasm"; });
  ASSERT_NE(wasm, assets.end());
  EXPECT_EQ(wasm->content_type, "application/wasm");
  EXPECT_EQ(wasm->bytes.substr(0, 4), std::string_view("\0asm", 4));
}

TEST(EmbeddedPage, TheRouterServesItWithValidatorsAndCompression) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins;
  const RouterContext context{files, origins, "token"};
  auto page = route(get("/"), context);
  ASSERT_EQ(page.kind, RouteKind::reply);
  EXPECT_EQ(page.reply.result(), http::status::ok);
  EXPECT_EQ(page.reply.body(), read_file(fs::path(PTT_SOURCE_DIR) / "web" / "index.html"));
  EXPECT_EQ(page.reply[http::field::content_type], "text/html; charset=utf-8");
  const std::string etag(page.reply[http::field::etag]);
  ASSERT_FALSE(etag.empty());

  auto gz = route(get("/", "gzip, deflate"), context);
  EXPECT_EQ(gz.reply[http::field::content_encoding], "gzip");
  EXPECT_LT(gz.reply.body().size(), page.reply.body().size());
  EXPECT_EQ(gz.reply.body().substr(0, 2), "\x1f\x8b");
  EXPECT_NE(gz.reply[http::field::etag], etag);
  EXPECT_EQ(gz.reply[http::field::vary], "Accept-Encoding");

  auto again = get("/");
  again.set(http::field::if_none_match, etag);
  auto cached = route(again, context);
  EXPECT_EQ(cached.reply.result(), http::status::not_modified);
  EXPECT_TRUE(cached.reply.body().empty());

  auto head = route(HttpRequest{http::verb::head, "/app.js", 11}, context);
  EXPECT_EQ(head.reply.result(), http::status::ok);
  EXPECT_TRUE(head.reply.body().empty());
  EXPECT_EQ(head.reply[http::field::content_length], std::to_string(read_file(fs::path(PTT_SOURCE_DIR) / "web" / "app.js").size()));

  EXPECT_EQ(route(HttpRequest{http::verb::post, "/", 11}, context).reply.result(), http::status::method_not_allowed);
  EXPECT_EQ(route(get("/missing.html"), context).reply.result(), http::status::not_found);
  EXPECT_EQ(route(get("/healthz"), context).reply.result(), http::status::ok);
  EXPECT_EQ(route(get("/healthz?probe=1"), context).reply.result(), http::status::ok);  // query ignored everywhere
}

// Acceptance: no request path of any form returns a byte of a file outside the served set, from
// the embedded page or from the developer override.
TEST_F(StaticFolder, NoHostilePathReachesOutsideTheServedSet) {
  const auto targets = hostile_targets(secret_.string());
  ASSERT_GE(targets.size(), 40u);
  const std::string secret = read_file(secret_), passwd = read_file("/etc/passwd");
  const StaticFiles embedded(embedded_web_assets());
  const StaticFiles override_(embedded_web_assets(), dir_ / "web", dir_ / "wasm");
  const OriginPolicy origins;
  for (const StaticFiles* files : {&embedded, &override_}) {
    const RouterContext context{*files, origins, "token"};
    for (const auto& target : targets) {
      for (const char* encoding : {"", "gzip"}) {
        const auto r = route(get(target, encoding), context);
        ASSERT_EQ(r.kind, RouteKind::reply) << target;
        const auto status = r.reply.result_int();
        EXPECT_TRUE(status == 400 || status == 404) << target << " answered " << status;
        EXPECT_EQ(r.reply.body().find("SECRET-BYTES"), std::string::npos) << target;
        EXPECT_EQ(r.reply.body().find("root:x:0:0"), std::string::npos) << target;
      }
    }
  }
  // Symlinks inside the override folder that lead out are not followed out.
  const RouterContext context{override_, origins, "token"};
  for (const char* target : {"/link-out.txt", "/etc-dir/passwd", "/parent/secret.txt"})
    EXPECT_EQ(route(get(target), context).reply.result(), http::status::not_found) << target;
  // What is inside is served.
  auto page = route(get("/"), context);
  EXPECT_EQ(page.reply.result(), http::status::ok);
  EXPECT_EQ(page.reply.body(), "<!doctype html><title>dev page</title>");
  EXPECT_EQ(route(get("/sub/a.js"), context).reply.body(), "export const a = 1;");
  EXPECT_EQ(route(get("/wasm/ptt_page.wasm"), context).reply.body(), "dev-wasm");
}

// The page hands audio from its worklet through a SharedArrayBuffer, which a browser gives only to
// a cross-origin isolated page: every reply carries the two headers that make it so.
TEST(Router, EveryReplyIsolatesThePage) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins;
  const RouterContext context{files, origins, "token"};
  for (const char* target : {"/", "/app.js", "/capture-worklet.js", "/wasm/ptt_capture.wasm", "/missing", "/a/../b"}) {
    const auto r = route(get(target), context);
    ASSERT_EQ(r.kind, RouteKind::reply) << target;
    EXPECT_EQ(r.reply["Cross-Origin-Opener-Policy"], "same-origin") << target;
    EXPECT_EQ(r.reply["Cross-Origin-Embedder-Policy"], "require-corp") << target;
  }
}

// The join form shows the room-code field before the first try when the room has a code, and
// only says whether it has one.
TEST(Router, TellsTheJoinFormWhetherTheRoomHasACode) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins;
  const RouterContext open_room{files, origins, "token"};
  const RouterContext coded_room{files, origins, "token", nullptr, {}, true};
  const auto open_reply = route(get("/room.json"), open_room);
  const auto coded_reply = route(get("/room.json"), coded_room);
  ASSERT_EQ(open_reply.kind, RouteKind::reply);
  EXPECT_EQ(open_reply.reply.result(), http::status::ok);
  EXPECT_EQ(open_reply.reply[http::field::content_type], "application/json");
  EXPECT_EQ(open_reply.reply.body(), "{\"code_required\":false}\n");
  EXPECT_EQ(coded_reply.reply.body(), "{\"code_required\":true}\n");
  HttpRequest post{http::verb::post, "/room.json", 11};
  EXPECT_NE(route(post, coded_room).reply.result(), http::status::ok);
}

// Plain HTTP's redirect to https (the help port, the TLS port): the host the student typed at the
// TLS port, with or without a port of its own (a browser sends none for port 80), never a foreign
// one; and the same protective headers as every other reply.
TEST(Router, PlainHttpRedirectsToTheTypedHostAtTheTlsPort) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins(true, {"192.168.1.20", "localhost"}, 8443, {});
  const RouterContext context{files, origins, "token"};
  auto redirect = [&](std::string_view host) {
    HttpRequest req{http::verb::get, "/app.js", 11};
    if (!host.empty()) req.set(http::field::host, host);
    return plain_http_reply(req, context, true);
  };
  EXPECT_EQ(redirect("192.168.1.20:8080")[http::field::location], "https://192.168.1.20:8443/app.js");
  EXPECT_EQ(redirect("192.168.1.20")[http::field::location], "https://192.168.1.20:8443/app.js");
  EXPECT_EQ(redirect("localhost")[http::field::location], "https://localhost:8443/app.js");
  EXPECT_EQ(redirect("[::1]")[http::field::location], "https://[::1]:8443/app.js");
  EXPECT_EQ(redirect("[::1]:8080")[http::field::location], "https://[::1]:8443/app.js");
  for (std::string_view foreign : {"evil.example", "evil.example:8443", "", "::1"}) {
    const auto r = redirect(foreign);
    EXPECT_EQ(r.result(), http::status::found) << foreign;
    EXPECT_TRUE(r[http::field::location].starts_with("https://192.168.1.20:8443/")) << foreign;
  }
  const auto r = redirect("localhost:8080");
  EXPECT_EQ(r["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(r["Content-Security-Policy"], "frame-ancestors 'none'");
  EXPECT_EQ(r["Referrer-Policy"], "no-referrer");
}

TEST(Router, UpgradesOnlyTheWebSocketPathFromOwnOrigins) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins(true, {"192.168.1.20"}, 8443, {"https://ptt.example.edu"});
  const RouterContext context{files, origins, "token"};
  auto upgrade = [](std::string_view target, std::string_view origin, std::string_view host) {
    HttpRequest req{http::verb::get, target, 11};
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::host, host);
    if (!origin.empty()) req.set(http::field::origin, origin);
    return req;
  };
  EXPECT_EQ(route(upgrade("/ws", "https://192.168.1.20:8443", "192.168.1.20:8443"), context).kind, RouteKind::websocket);
  EXPECT_EQ(route(upgrade("/ws", "https://localhost:8443", "localhost:8443"), context).kind, RouteKind::websocket);
  EXPECT_EQ(route(upgrade("/ws", "https://127.0.0.1:8443", "127.0.0.1:8443"), context).kind, RouteKind::websocket);
  EXPECT_EQ(route(upgrade("/ws", "https://ptt.example.edu", "ptt.example.edu"), context).kind, RouteKind::websocket);
  EXPECT_EQ(route(upgrade("/ws", "", "192.168.1.20:8443"), context).kind, RouteKind::websocket);  // not a browser
  // DNS rebinding: a foreign name that resolves to this laptop sends a matching Host. Refused.
  auto rebound = route(upgrade("/ws", "https://evil.example:8443", "evil.example:8443"), context);
  EXPECT_EQ(rebound.kind, RouteKind::reply);
  EXPECT_EQ(rebound.reply.result(), http::status::forbidden);
  EXPECT_EQ(route(upgrade("/ws", "http://192.168.1.20:8443", "192.168.1.20:8443"), context).reply.result(),
            http::status::forbidden);  // wrong scheme
  EXPECT_EQ(route(upgrade("/ws", "https://192.168.1.20:9999", "192.168.1.20:8443"), context).reply.result(),
            http::status::forbidden);  // wrong port
  EXPECT_EQ(route(upgrade("/other", "https://localhost:8443", "localhost:8443"), context).reply.result(),
            http::status::not_found);
  EXPECT_EQ(route(upgrade("/ws?v=1", "https://localhost:8443", "localhost:8443"), context).kind, RouteKind::websocket);
  // Two Origin headers are a forgery, whichever comes first.
  auto twice = upgrade("/ws", "https://localhost:8443", "localhost:8443");
  twice.insert(http::field::origin, "https://evil.example");
  EXPECT_EQ(route(twice, context).reply.result(), http::status::forbidden);
}

TEST(Router, PlainHttpOriginsAreTheServersOwnToo) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins(false, {"10.0.0.5"}, 8080, {});
  EXPECT_TRUE(origins.allows("http://10.0.0.5:8080"));
  EXPECT_TRUE(origins.allows("HTTP://LOCALHOST:8080"));
  EXPECT_TRUE(origins.allows("http://[::1]:8080"));
  EXPECT_FALSE(origins.allows("http://attacker.example:8080"));
  EXPECT_FALSE(origins.allows("https://10.0.0.5:8080"));
  EXPECT_FALSE(origins.allows("null"));
  const OriginPolicy standard(true, {"ptt.example.edu"}, 443, {});
  EXPECT_TRUE(standard.allows("https://ptt.example.edu"));
  EXPECT_TRUE(standard.allows("https://ptt.example.edu:443"));
}

TEST(Router, AdminNeedsTheTokenAndNamesItsAction) {
  const StaticFiles files(embedded_web_assets());
  const OriginPolicy origins;
  const RouterContext context{files, origins, "let-me-in"};
  auto admin = [&](http::verb verb, std::string_view target, std::string_view auth) {
    HttpRequest req{verb, target, 11};
    if (!auth.empty()) req.set(http::field::authorization, auth);
    return route(req, context);
  };
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "Bearer let-me-out").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "Bearer let-me-in-").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "let-me-in").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "Bearer let-me-in").kind, RouteKind::admin_status);
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "bearer let-me-in").kind, RouteKind::admin_status);  // any case
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "BEARER let-me-in").kind, RouteKind::admin_status);
  EXPECT_EQ(admin(http::verb::get, "/admin/status", "Basic! let-me-in").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::post, "/admin/revoke", "Bearer let-me-in").kind, RouteKind::admin_revoke);
  EXPECT_EQ(admin(http::verb::get, "/admin/revoke", "Bearer let-me-in").reply.result(), http::status::not_found);
  EXPECT_EQ(admin(http::verb::get, "/admin/../index.html", "Bearer let-me-in").reply.result(), http::status::bad_request);
  EXPECT_EQ(admin(http::verb::get, "/admin//status", "").reply.result(), http::status::bad_request);  // grammar first
  EXPECT_EQ(admin(http::verb::get, "/admin/status?x=1", "Bearer let-me-in").kind, RouteKind::admin_status);
  EXPECT_EQ(admin(http::verb::get, "/admin/recordings/3#top", "Bearer let-me-in").recording_id, 3u);
  EXPECT_EQ(admin(http::verb::get, "/admin/log.csv", "Bearer let-me-in").kind, RouteKind::admin_log);
  EXPECT_EQ(admin(http::verb::get, "/admin/log.csv", "").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::post, "/admin/log.csv", "Bearer let-me-in").reply.result(), http::status::not_found);
  // The floor actions: POST only, the student named by a plain decimal id, the mode by its name.
  const auto grant = admin(http::verb::post, "/admin/grant?client=42", "Bearer let-me-in");
  EXPECT_EQ(grant.kind, RouteKind::admin_action);
  EXPECT_EQ(grant.action, AdminAction::grant);
  EXPECT_EQ(grant.client, 42u);
  EXPECT_EQ(admin(http::verb::post, "/admin/dequeue?x=1&client=7", "Bearer let-me-in").action, AdminAction::dequeue);
  EXPECT_EQ(admin(http::verb::post, "/admin/dequeue?x=1&client=7", "Bearer let-me-in").client, 7u);
  EXPECT_EQ(admin(http::verb::post, "/admin/remove?client=9#x", "Bearer let-me-in").client, 9u);
  EXPECT_EQ(admin(http::verb::post, "/admin/remove?client=9", "").reply.result(), http::status::unauthorized);
  EXPECT_EQ(admin(http::verb::get, "/admin/grant?client=42", "Bearer let-me-in").reply.result(), http::status::not_found);
  for (const char* bad : {"/admin/grant", "/admin/grant?client=", "/admin/grant?client=0", "/admin/grant?client=012",
                          "/admin/grant?client=-1", "/admin/grant?client=1e3", "/admin/grant?client=9999999999",
                          "/admin/grant?clients=4", "/admin/grant?client=4x", "/admin/grant?client=4&client=5"})
    EXPECT_EQ(admin(http::verb::post, bad, "Bearer let-me-in").reply.result(), http::status::bad_request) << bad;
  const auto mode = admin(http::verb::post, "/admin/mode?mode=moderated", "Bearer let-me-in");
  EXPECT_EQ(mode.kind, RouteKind::admin_action);
  EXPECT_EQ(mode.action, AdminAction::mode);
  EXPECT_EQ(mode.mode, FloorMode::moderated);
  EXPECT_EQ(admin(http::verb::post, "/admin/mode?mode=queue", "Bearer let-me-in").mode, FloorMode::queue);
  for (const char* bad : {"/admin/mode", "/admin/mode?mode=", "/admin/mode?mode=Queue", "/admin/mode?mode=queue2",
                          "/admin/mode?mode=moderated&mode=queue"})
    EXPECT_EQ(admin(http::verb::post, bad, "Bearer let-me-in").reply.result(), http::status::bad_request) << bad;
  const RouterContext no_token{files, origins, ""};
  HttpRequest req{http::verb::get, "/admin/status", 11};
  req.set(http::field::authorization, "Bearer ");
  EXPECT_EQ(route(req, no_token).reply.result(), http::status::unauthorized);
}

}  // namespace
}  // namespace ptt::server::test
