// The TLS certificate students' browsers see. Browsers grant the microphone only to a secure
// origin, so the server speaks HTTPS by default with a self-signed certificate it makes itself
// (OpenSSL), naming localhost and every LAN address, kept in the state folder and reused.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ptt::server {

struct CertificateFiles {
  std::filesystem::path cert, key;
  bool generated = false;  // made (or remade) on this start
};

// Returns the certificate and key to use: the given files if both are set, otherwise
// state_dir/cert.pem and state_dir/key.pem, made anew when missing or when they do not name one
// of `addresses`. Files are written owner-only. Throws std::runtime_error with the reason on failure.
CertificateFiles ensure_certificate(const std::filesystem::path& state_dir, const std::filesystem::path& cert,
                                    const std::filesystem::path& key, const std::vector<std::string>& addresses);

// Subject alternative names (DNS and IP) of a PEM certificate file; empty if it cannot be read.
std::vector<std::string> certificate_names(const std::filesystem::path& cert);

}  // namespace ptt::server
