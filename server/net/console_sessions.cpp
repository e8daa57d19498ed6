#include "console_sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

namespace ptt::server {

std::string ConsoleSessions::open(std::string* evicted) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  std::lock_guard lock(mutex_);
  if (ids_.size() == kMaxSessions) {
    if (evicted) *evicted = std::move(ids_.front());
    ids_.erase(ids_.begin());
  }
  ids_.push_back(id);
  return id;
}

void ConsoleSessions::close(std::string_view id) {
  std::lock_guard lock(mutex_);
  for (auto it = ids_.begin(); it != ids_.end(); ++it) {
    if (it->size() == id.size() && CRYPTO_memcmp(it->data(), id.data(), id.size()) == 0) {
      ids_.erase(it);
      return;
    }
  }
}

bool ConsoleSessions::valid(std::string_view id) const {
  if (id.empty()) return false;
  std::lock_guard lock(mutex_);
  bool found = false;
  for (const auto& s : ids_)  // every one compared, in constant time each
    found |= s.size() == id.size() && CRYPTO_memcmp(s.data(), id.data(), id.size()) == 0;
  return found;
}

std::string_view ConsoleSessions::from_cookie_header(std::string_view header) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    auto pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > kCookie.size() && pair.starts_with(kCookie) && pair[kCookie.size()] == '=')
      return pair.substr(kCookie.size() + 1);
  }
  return {};
}

std::string ConsoleSessions::set_cookie(std::string_view id) {
  std::string v = std::string(kCookie) + "=" + std::string(id) + "; Path=/; HttpOnly; Secure; SameSite=Strict";
  if (id.empty()) v += "; Max-Age=0";
  return v;
}

}  // namespace ptt::server
