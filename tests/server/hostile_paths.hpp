// Request targets a hostile student might send for a file outside what the server serves, as sent
// on the wire (no normalisation: `curl --path-as-is`). Shared by the static-file, router and
// real-socket tests. `{secret}` stands for the absolute path of a file outside the served set.
#pragma once

#include <string>
#include <vector>

namespace ptt::server::test {

inline std::vector<std::string> hostile_targets(const std::string& secret) {
  using namespace std::string_literals;
  return {
      // Absolute paths smuggled past the leading slash.
      "//etc/passwd", "///etc/passwd", "////etc/passwd", "//etc/shadow", "/" + secret, "///" + secret.substr(1),
      "/wasm//etc/passwd", "/wasm///etc/passwd", "/wasm/" + secret, "//proc/self/environ", "//root/.ssh/id_rsa",
      // Dot segments, plain and encoded.
      "/..", "/../etc/passwd", "/../../../../etc/passwd", "/wasm/../../etc/passwd", "/index.html/../../etc/passwd",
      "/./index.html", "/.//etc/passwd", "/.../etc/passwd", "/....//etc/passwd", "/wasm/....//....//etc/passwd",
      "/..;/etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd", "/.%2e/etc/passwd",
      "/%252e%252e/etc/passwd", "/%c0%ae%c0%ae/etc/passwd", "/\xc0\xae\xc0\xae/etc/passwd",
      // Encoded and Windows separators.
      "/..%2fetc/passwd", "/..%2Fetc%2Fpasswd", "/%2fetc/passwd", "/%2Fetc%2Fpasswd", "/wasm/%2fetc%2fpasswd",
      "/..%5c..%5cetc%5cpasswd", "/..\\etc\\passwd", "/\\etc\\passwd", "/wasm/..\\..\\etc\\passwd",
      "/\\\\localhost\\etc\\passwd",
      // NUL and controls.
      "/index.html%00", "/%00/etc/passwd", "/index.html\0../../etc/passwd"s, "/\t/etc/passwd",
      // Hidden files of the checkout and the server's state.
      "/.git/config", "/.state/key.pem", "/.env", "/.cache/src/opus/README",
      // Other request-target forms.
      "etc/passwd", "http://localhost/etc/passwd", "https://localhost//etc/passwd", "*",
      // Things that exist on disk but were never served: recordings, procfs, home folders.
      "/recordings/Ana-1.opus", "//recordings/Ana-1.opus", "/proc/self/environ", "/~root/.ssh/id_rsa",
      "/etc/passwd", "/CMakeLists.txt", "/server/main.cpp",
  };
}

}  // namespace ptt::server::test
