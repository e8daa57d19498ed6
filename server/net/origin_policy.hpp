// Which page origins may open a WebSocket: the server's own (every address it prints, localhost,
// 127.0.0.1 and [::1], and the names in its certificate) and any the professor adds with
// --allow-origin. Never derived from the request itself, so a page on another name that resolves
// to this laptop (DNS rebinding) is refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptt::server {

class OriginPolicy {
 public:
  OriginPolicy() = default;
  // hosts: names or addresses as they appear in a URL (IPv6 in brackets).
  OriginPolicy(bool tls, const std::vector<std::string>& hosts, std::uint16_t port, std::vector<std::string> extra);

  // An absent Origin (not a browser) is allowed; a present one must match exactly, ignoring case.
  bool allows(std::string_view origin) const;
  const std::vector<std::string>& origins() const noexcept { return origins_; }

 private:
  std::vector<std::string> origins_;  // lower case
};

}  // namespace ptt::server
