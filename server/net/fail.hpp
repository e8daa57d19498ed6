// Where the network wing reports an operation that failed, as Beast's example servers do with their
// fail(): a connection that ends badly is logged, never dropped in silence. Most failures are the
// routine end of a connection in a classroom (a phone locks, a tab closes, Wi-Fi drops, a timeout)
// and go to the debug log (--log-level debug).
#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>

namespace ptt::server {

// Logs that `what` failed with `ec`, at debug level. tls_peer: for a failed TLS handshake, the
// client's address; that is logged at info, because a phone refusing the self-signed certificate is
// the likeliest reason a student cannot get in, and the professor needs to see it happen.
void fail(boost::system::error_code ec, char const* what, std::string_view tls_peer = {});

}  // namespace ptt::server
