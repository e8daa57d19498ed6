#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "certificate.hpp"

using namespace ptt::server;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("ptt-cert-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};
bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }
unsigned mode(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}
}  // namespace

TEST(Certificate, IsMadeOnceNamingLocalhostAndLanAddressesOwnerOnly) {
  TempDir dir;
  auto first = ensure_certificate(dir.path, {}, {}, {"192.0.2.7"});
  EXPECT_TRUE(first.generated);
  const auto names = certificate_names(first.cert);
  EXPECT_TRUE(has(names, "localhost"));
  EXPECT_TRUE(has(names, "127.0.0.1"));
  EXPECT_TRUE(has(names, "::1"));
  EXPECT_TRUE(has(names, "192.0.2.7"));
  EXPECT_EQ(mode(first.key), 0600u);
  EXPECT_EQ(mode(first.cert), 0600u);
  EXPECT_EQ(mode(dir.path), 0700u);

  auto again = ensure_certificate(dir.path, {}, {}, {"192.0.2.7"});
  EXPECT_FALSE(again.generated);  // reused: students accept the warning once

  auto moved = ensure_certificate(dir.path, {}, {}, {"198.51.100.3"});
  EXPECT_TRUE(moved.generated);  // the laptop joined another network
  EXPECT_TRUE(has(certificate_names(moved.cert), "198.51.100.3"));
}

TEST(Certificate, GivenFilesMustExistAndComeInPairs) {
  TempDir dir;
  EXPECT_THROW(ensure_certificate(dir.path, dir.path / "c.pem", {}, {}), std::runtime_error);
  EXPECT_THROW(ensure_certificate(dir.path, dir.path / "c.pem", dir.path / "k.pem", {}), std::runtime_error);
  auto made = ensure_certificate(dir.path / "s", {}, {}, {});
  auto given = ensure_certificate(dir.path, made.cert, made.key, {});
  EXPECT_FALSE(given.generated);
  EXPECT_EQ(given.cert, made.cert);
}
