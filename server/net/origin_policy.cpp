#include "origin_policy.hpp"

#include <algorithm>
#include <cctype>

namespace ptt::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

OriginPolicy::OriginPolicy(bool tls, const std::vector<std::string>& hosts, std::uint16_t port,
                           std::vector<std::string> extra) {
  const std::string scheme = tls ? "https://" : "http://";
  const bool default_port = port == (tls ? 443 : 80);
  auto add = [this](std::string origin) {
    origin = lower(origin);
    if (std::find(origins_.begin(), origins_.end(), origin) == origins_.end()) origins_.push_back(std::move(origin));
  };
  std::vector<std::string> all = hosts;
  for (const char* local : {"localhost", "127.0.0.1", "[::1]"}) all.emplace_back(local);
  for (const auto& host : all) {
    if (host.empty()) continue;
    add(scheme + host + ":" + std::to_string(port));
    if (default_port) add(scheme + host);  // browsers leave the default port out of Origin
  }
  for (auto& e : extra) {
    while (!e.empty() && e.back() == '/') e.pop_back();
    add(e);
  }
}

bool OriginPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return true;
  const std::string o = lower(origin);
  return std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

}  // namespace ptt::server
