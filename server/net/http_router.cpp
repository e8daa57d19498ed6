#include "http_router.hpp"

#include <openssl/crypto.h>

#include <cctype>

#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace ptt::server {
namespace {

void common_headers(HttpReply& res) {
  res.set(http::field::server, "ptt-server");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  // Nobody else's page may frame the talk button (clickjacking a student into speaking).
  res.set("Content-Security-Policy", "frame-ancestors 'none'");
  // Cross-origin isolation: the page's capture worklet hands packets over in a SharedArrayBuffer,
  // which browsers give only to an isolated page. Everything the page loads is its own.
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  res.set("Cross-Origin-Embedder-Policy", "require-corp");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
}

bool token_matches(std::string_view token, std::string_view given) {
  return !token.empty() && given.size() == token.size() && CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

// The console's login, from its cookie; empty when there is none or it is not (or no longer) valid.
std::string console_login(const HttpRequest& req, const RouterContext& context) {
  if (!context.consoles) return {};
  const auto id = ConsoleSessions::from_cookie_header(req[http::field::cookie]);
  return context.consoles->valid(id) ? std::string(id) : std::string{};
}

bool admin_authorised(std::string_view token, const HttpRequest& req) {
  const auto auth = req[http::field::authorization];
  constexpr std::string_view bearer = "bearer ";
  if (token.empty() || auth.size() != bearer.size() + token.size()) return false;
  for (std::size_t i = 0; i < bearer.size(); ++i)  // the scheme in any letter case (RFC 9110)
    if (std::tolower(static_cast<unsigned char>(auth[i])) != bearer[i]) return false;
  return CRYPTO_memcmp(auth.data() + bearer.size(), token.data(), token.size()) == 0;
}

// A decimal id of 1 to 9 digits without a leading zero; 0 for anything else.
std::uint32_t decimal_id(std::string_view digits) {
  if (digits.empty() || digits.size() > 9 || digits.front() == '0') return 0;
  std::uint32_t id = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return id;
}

// "/admin/recordings/<id>", the id a decimal number from the listing (1 to 9 digits, no leading
// zero); 0 for anything else.
std::uint32_t recording_id(std::string_view target) {
  constexpr std::string_view prefix = "/admin/recordings/";
  if (!target.starts_with(prefix)) return 0;
  return decimal_id(target.substr(prefix.size()));
}

// The value of `key` in the target's query (?a=1&b=2), as sent (no percent-decoding: every value
// asked for here is a number or a mode name); empty when absent or given twice (which one was meant?).
std::string_view query_value(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto query = target.substr(q + 1, target.find('#') == std::string_view::npos ? std::string_view::npos
                                                                               : target.find('#') - q - 1);
  std::string_view value;
  bool found = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.size() >= key.size() + 1 && pair.starts_with(key) && pair[key.size()] == '=') {
      if (found) return {};
      found = true;
      value = pair.substr(key.size() + 1);
    }
  }
  return value;
}

// If-None-Match holds the served representation's tag (or "*"): the client's copy is current.
bool not_modified(std::string_view if_none_match, std::string_view etag) {
  if (etag.empty() || if_none_match.empty()) return false;
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos ? std::string_view{} : if_none_match.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison, as RFC 9110 asks for GET
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

HttpReply static_reply(const HttpRequest& req, std::string_view bare, const StaticFiles& files) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text_reply(req, http::status::method_not_allowed, "GET or HEAD only\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (bare == "/healthz") return text_reply(req, http::status::ok, "ok\n");
  StaticFile file;
  switch (files.find(req.target(), accepts_gzip(req[http::field::accept_encoding]), file)) {
    case PathVerdict::bad_request: return text_reply(req, http::status::bad_request, "bad path\n");
    case PathVerdict::not_found: return text_reply(req, http::status::not_found, "not found\n");
    case PathVerdict::ok: break;
  }
  const bool unchanged = not_modified(req[http::field::if_none_match], file.etag);
  HttpReply res{unchanged ? http::status::not_modified : http::status::ok, req.version()};
  common_headers(res);
  res.keep_alive(req.keep_alive());
  if (!file.etag.empty()) {
    res.set(http::field::etag, file.etag);
    res.set(http::field::cache_control, "no-cache");  // revalidate each load: a rebuilt server serves new bytes
    res.set(http::field::vary, "Accept-Encoding");
  } else {
    res.set(http::field::cache_control, "no-store");
  }
  if (unchanged) return res;
  res.set(http::field::content_type, file.content_type);
  if (file.gzip) res.set(http::field::content_encoding, "gzip");
  if (req.method() == http::verb::head) {
    res.content_length(file.bytes.size());
    return res;
  }
  res.body().assign(file.bytes);
  res.prepare_payload();
  return res;
}

// The https origin for a plain-HTTP request: the Host it named when that is one of the server's
// own origins (a student's typed address keeps working), else the first the server printed.
std::string https_origin(const HttpRequest& req, const OriginPolicy& own) {
  if (own.origins().empty()) return "";
  const std::string_view host = req[http::field::host];
  std::string origin = "https://" + std::string(host);
  if (!host.empty() && own.allows(origin)) return origin;
  // The help page's own port: the same host name at the TLS port (that of the first origin).
  const std::string& first = own.origins().front();
  // (A Host without a port, as browsers send for port 80, is that host name as it is.)
  const auto first_colon = first.rfind(':'), host_colon = host.rfind(':');
  const bool host_has_port = host_colon != std::string_view::npos && host.back() != ']' &&
                             (host.front() != '[' || host_colon > host.find(']'));
  if (first_colon > std::string_view("https:").size() && first.back() != ']' && !host.empty()) {
    origin = "https://" + std::string(host_has_port ? host.substr(0, host_colon) : host) + first.substr(first_colon);
    if (own.allows(origin)) return origin;
  }
  return first;
}

// A room code as a query value: unreserved bytes and %XX escapes only (it goes into an address
// and an HTML attribute as it is), at most 96 bytes (32 bytes escaped); empty otherwise.
std::string_view safe_query_value(std::string_view v) {
  if (v.size() > 96) return {};
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
      continue;
    if (c == '%' && i + 2 < v.size() && hex(v[i + 1]) && hex(v[i + 2])) {
      i += 2;
      continue;
    }
    return {};
  }
  return v;
}

}  // namespace

HttpReply plain_http_reply(const HttpRequest& req, const RouterContext& context, bool help_page) {
  const std::string origin = https_origin(req, context.origins);
  std::string path;
  const bool clean = clean_request_path(req.target(), path) == PathVerdict::ok;
  const auto bare = req.target().substr(0, req.target().find_first_of("?#"));
  StaticFile page;
  if (help_page && clean && bare == "/" && (req.method() == http::verb::get || req.method() == http::verb::head) &&
      context.files.find("/welcome.html", false, page) == PathVerdict::ok) {
    std::string https_url = origin + "/";
    if (const auto room = safe_query_value(query_value(req.target(), "room")); !room.empty()) https_url += "?room=" + std::string(room);
    std::string body(page.bytes);
    constexpr std::string_view slot = "{{https_url}}";
    for (auto at = body.find(slot); at != std::string::npos; at = body.find(slot, at + https_url.size()))
      body.replace(at, slot.size(), https_url);
    auto res = text_reply(req, http::status::ok, std::move(body), "text/html; charset=utf-8");
    if (req.method() == http::verb::head) res.body().clear();
    return res;
  }
  // Found, not moved for good: a browser must not remember it over the help page.
  HttpReply r{http::status::found, req.version()};
  common_headers(r);
  r.set(http::field::location, origin + (clean ? std::string(req.target()) : std::string("/")));
  r.keep_alive(false);
  r.prepare_payload();
  return r;
}

HttpReply text_reply(const HttpRequest& req, http::status status, std::string body, std::string_view type) {
  HttpReply res{status, req.version()};
  common_headers(res);
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Route route(const HttpRequest& req, const RouterContext& context) {
  Route r;
  // Every target passes the one grammar first; routes match the path without query or fragment.
  std::string path;
  if (clean_request_path(req.target(), path) != PathVerdict::ok) {
    r.reply = text_reply(req, http::status::bad_request, "bad path\n");
    return r;
  }
  const auto bare = req.target().substr(0, req.target().find_first_of("?#"));
  if (boost::beast::websocket::is_upgrade(req)) {
    if (bare != "/ws" && bare != "/console/ws") r.reply = text_reply(req, http::status::not_found, "no WebSocket here\n");
    // Browsers send one Origin; two are a forgery, whatever the first says.
    else if (req.count(http::field::origin) > 1 || !context.origins.allows(req[http::field::origin]))
      r.reply = text_reply(req, http::status::forbidden, "foreign origin\n");
    else if (bare == "/ws") r.kind = RouteKind::websocket;
    else if (auto login = console_login(req, context); login.empty())
      r.reply = text_reply(req, http::status::unauthorized, "log in to the console first\n");
    else {
      r.kind = RouteKind::console_websocket;
      r.console_session = std::move(login);
    }
    return r;
  }
  if (bare == "/console/login" || bare == "/console/logout") {
    if (req.method() != http::verb::post) {
      r.reply = text_reply(req, http::status::method_not_allowed, "POST only\n");
      r.reply.set(http::field::allow, "POST");
    } else if (req.count(http::field::origin) > 1 || !context.origins.allows(req[http::field::origin])) {
      r.reply = text_reply(req, http::status::forbidden, "foreign origin\n");  // a login planted by another site
    } else if (bare == "/console/logout") {
      r.kind = RouteKind::console_logout;
      r.console_session = std::string(ConsoleSessions::from_cookie_header(req[http::field::cookie]));
    } else if (!context.consoles || !token_matches(context.admin_token, req.body())) {
      r.reply = text_reply(req, http::status::unauthorized, "wrong admin token\n");
    } else {
      r.kind = RouteKind::console_login;
    }
    return r;
  }
  if (bare.starts_with("/admin/")) {
    // The console's cookie reads (status, recordings: an <audio> element sends no bearer token); acting
    // takes the token or the console's own channel.
    const bool reads_with_cookie = req.method() == http::verb::get && !console_login(req, context).empty();
    if (!reads_with_cookie && !admin_authorised(context.admin_token, req)) {
      r.reply = text_reply(req, http::status::unauthorized, "admin token required (Authorization: Bearer ...)\n");
      r.reply.set(http::field::www_authenticate, "Bearer");
    } else if (bare == "/admin/status" && req.method() == http::verb::get) {
      r.kind = RouteKind::admin_status;
    } else if (bare == "/admin/revoke" && req.method() == http::verb::post) {
      r.kind = RouteKind::admin_revoke;
    } else if (bare == "/admin/log.csv" && req.method() == http::verb::get) {
      r.kind = RouteKind::admin_log;
    } else if (bare == "/admin/recordings" && req.method() == http::verb::get) {
      r.kind = RouteKind::admin_recordings;
    } else if (const auto id = recording_id(bare); id && req.method() == http::verb::get) {
      r.kind = RouteKind::admin_recording;
      r.recording_id = id;
    } else if (req.method() == http::verb::post &&
               (bare == "/admin/grant" || bare == "/admin/dequeue" || bare == "/admin/remove")) {
      r.client = decimal_id(query_value(req.target(), "client"));
      if (r.client == 0) {
        r.reply = text_reply(req, http::status::bad_request, "name the student: ?client=<id from /admin/status>\n");
      } else {
        r.kind = RouteKind::admin_action;
        r.action = bare == "/admin/grant" ? AdminAction::grant : bare == "/admin/dequeue" ? AdminAction::dequeue
                                                                                        : AdminAction::remove;
      }
    } else if (req.method() == http::verb::post && bare == "/admin/mode") {
      if (const auto mode = floor_mode_from_string(query_value(req.target(), "mode"))) {
        r.kind = RouteKind::admin_action;
        r.action = AdminAction::mode;
        r.mode = *mode;
      } else {
        r.reply = text_reply(req, http::status::bad_request, "?mode=first_come, queue or moderated\n");
      }
    } else {
      r.reply = text_reply(req, http::status::not_found, "unknown admin action\n");
    }
    return r;
  }
  if (bare == "/room.json" && req.method() == http::verb::get) {  // what the join form asks for
    r.reply = text_reply(req, http::status::ok, context.room_code_required ? "{\"code_required\":true}\n"
                                                                          : "{\"code_required\":false}\n",
                         "application/json");
    return r;
  }
  if (bare == "/join-qr.svg" && !context.join_qr_svg.empty() && req.method() == http::verb::get) {
    r.reply = text_reply(req, http::status::ok, std::string(context.join_qr_svg), "image/svg+xml");
    return r;
  }
  r.reply = static_reply(req, bare, context.files);
  return r;
}

}  // namespace ptt::server
