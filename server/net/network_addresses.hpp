// The machine's LAN addresses, for the URLs printed at start and the certificate's names.
#pragma once

#include <string>
#include <vector>

namespace ptt::server {

// Non-loopback IPv4 addresses of interfaces that are up, in interface order.
std::vector<std::string> lan_addresses();

}  // namespace ptt::server
