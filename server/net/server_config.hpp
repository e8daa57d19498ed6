// Everything the professor can set on the command line (main.cpp), in one place.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "recording_catalog.hpp"
#include "room.hpp"
#include "static_files.hpp"

namespace ptt::server {

struct ServerConfig {
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 8443;       // 0: any free port (tests)
  bool tls = true;                 // false: plain HTTP (localhost or behind a reverse proxy)
  // TLS with the server's own certificate: plain HTTP on the port gets a page that explains the
  // browser's certificate warning and links on (docs/PROTOCOL.md section 1), and that page is the
  // address students are given. False: plain HTTP is only redirected (a real certificate).
  bool help_page = true;
  // With help_page: a port of its own for that page, so students can be given a plain http://
  // address on a port of its own (ptt-server's default 8080). 0: the page is on the TLS port only.
  std::uint16_t help_port = 0;
  std::filesystem::path cert_file, key_file;  // empty: generated in state_dir
  std::filesystem::path state_dir = ".state";
  // Written once the server is ready (main.cpp): {"port":N,"https":B,"pid":P,"help_port":H}. Empty: none.
  std::filesystem::path ready_file;
  // What the server serves: the embedded page (main.cpp), or a developer's folders. Null: nothing
  // but /healthz.
  std::shared_ptr<const StaticFiles> static_files;
  // This run's recordings, listed at /admin/recordings and fetched by id (null: none).
  const RecordingCatalog* recordings = nullptr;
  std::vector<std::string> extra_origins;  // page origins allowed besides the server's own
  std::string admin_token;         // protects /admin/*
  int threads = 1;
  std::size_t max_queued_bytes = 256 * 1024;  // outgoing bytes waiting for a slow reader before it is dropped
  // From accept to a finished TLS handshake, and for each whole HTTP request (the upgrade among
  // them): a slow or half-open client is dropped after this.
  std::chrono::milliseconds handshake_timeout{10'000};
  RoomConfig room;
};

}  // namespace ptt::server
