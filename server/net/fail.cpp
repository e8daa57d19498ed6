#include "fail.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/error.hpp>

namespace ptt::server {

void fail(boost::system::error_code ec, char const* what, std::string_view tls_peer) {
  // A handshake cut short by the server's own shutdown is not the client's doing.
  if (!tls_peer.empty() && ec != boost::asio::error::operation_aborted) {
    spdlog::info("TLS handshake with {} failed (the browser may have refused the certificate): {}", tls_peer,
                 ec.message());
    return;
  }
  if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("{}: {}", what, ec.message());
}

}  // namespace ptt::server
