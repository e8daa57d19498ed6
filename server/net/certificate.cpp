#include "certificate.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace ptt::server {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const noexcept { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using File = std::unique_ptr<FILE, decltype(&std::fclose)>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("certificate: " + what); }

// Opens for writing with owner-only permissions from the first byte (no window where it is readable).
File open_private(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) fail("cannot write " + path.string());
  ::fchmod(fd, 0600);
  FILE* f = ::fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    fail("cannot write " + path.string());
  }
  return File(f, &std::fclose);
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void generate(const fs::path& cert_path, const fs::path& key_path, const std::vector<std::string>& addresses) {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) fail("key generation failed");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24 * 3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 825L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Smart Push-to-Talk"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ptt-server"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& a : addresses) san += ",IP:" + a;
  add_extension(cert.get(), NID_subject_alt_name, san);
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("signing failed");

  {
    File f = open_private(key_path);
    if (!PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) fail("cannot write key");
  }
  File f = open_private(cert_path);
  if (!PEM_write_X509(f.get(), cert.get())) fail("cannot write certificate");
}

}  // namespace

std::vector<std::string> certificate_names(const fs::path& cert_path) {
  std::vector<std::string> names;
  File f(std::fopen(cert_path.c_str(), "r"), &std::fclose);
  if (!f) return names;
  X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) return names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (!sans) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_DNS) {
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                         static_cast<std::size_t>(ASN1_STRING_length(gn->d.dNSName)));
    } else if (gn->type == GEN_IPADD) {
      const int len = ASN1_STRING_length(gn->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = {};
      if ((len == 4 || len == 16) &&
          ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.iPAddress), text, sizeof text))
        names.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

CertificateFiles ensure_certificate(const fs::path& state_dir, const fs::path& cert, const fs::path& key,
                                    const std::vector<std::string>& addresses) {
  if (!cert.empty() || !key.empty()) {
    if (cert.empty() || key.empty()) fail("--cert and --key go together");
    if (!fs::exists(cert)) fail(cert.string() + " does not exist");
    if (!fs::exists(key)) fail(key.string() + " does not exist");
    return {cert, key, false};
  }
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) fail("cannot create " + state_dir.string() + ": " + ec.message());
  fs::permissions(state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  CertificateFiles files{state_dir / "cert.pem", state_dir / "key.pem", false};
  bool usable = fs::exists(files.cert) && fs::exists(files.key);
  if (usable) {
    const auto names = certificate_names(files.cert);
    for (const auto& a : addresses)
      if (std::find(names.begin(), names.end(), a) == names.end()) usable = false;  // the laptop moved networks
  }
  if (!usable) {
    generate(files.cert, files.key, addresses);
    files.generated = true;
  }
  return files;
}

}  // namespace ptt::server
