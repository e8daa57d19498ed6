// The professor's console logins: the admin token, typed or clicked once, buys a session id that
// the browser keeps in an HttpOnly, Secure, SameSite=Strict cookie. Shared by the HTTP sessions
// (login, logout, the console's WebSocket upgrade) and the console's WebSocket (each action is
// checked against it, so nothing is carried out after a logout). Thread-safe; a handful of
// sessions at most (the oldest goes first).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ptt::server {

class ConsoleSessions {
 public:
  static constexpr std::string_view kCookie = "ptt_console";
  static constexpr std::size_t kMaxSessions = 8;

  // A new session id (32 hex digits from the system's random source); empty if none could be made.
  // `evicted`: the oldest login, when this one pushed it out (its channels should close).
  std::string open(std::string* evicted = nullptr);
  void close(std::string_view id);
  // Compared in constant time with each open session.
  bool valid(std::string_view id) const;
  // The value of our cookie in a Cookie header ("a=1; ptt_console=..."), or empty.
  static std::string_view from_cookie_header(std::string_view header);
  // The Set-Cookie value that logs in (`id`) or out (empty `id`: expires it).
  static std::string set_cookie(std::string_view id);

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> ids_;  // oldest first
};

}  // namespace ptt::server
