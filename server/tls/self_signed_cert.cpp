#include "tls/self_signed_cert.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <array>
#include <memory>

#include "users/passwd_edit.h"

namespace packmail::server {
namespace {

template <class T, void (*F)(T*)>
struct deleter {
  void operator()(T* p) const { F(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(const std::string& what) {
  std::array<char, 256> buf{};
  const unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, buf.data(), buf.size());
  ERR_clear_error();
  throw tls_setup_error(what + (code != 0 ? std::string(": ") + buf.data() : std::string()));
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("cannot add X.509 extension " + value);
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void generate(const std::filesystem::path& cert_path, const std::filesystem::path& key_path) {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate an EC P-256 key");

  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), serial.size()) != 1) fail("RAND_bytes");
  serial[0] &= 0x7f;  // a positive INTEGER
  BIGNUM* bn = BN_bin2bn(serial.data(), serial.size(), nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    fail("cannot set the serial number");
  }
  BN_free(bn);
  constexpr long k_ten_years = 10L * 365 * 24 * 3600 + 3 * 24 * 3600;  // leap days
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), k_ten_years);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) fail("X509_set_pubkey");

  const std::string host = host_name();
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("packmail self-signed"), -1,
                                 -1, 0) != 1) {
    fail("cannot set the subject name");
  }
  if (X509_set_issuer_name(cert.get(), name) != 1) fail("X509_set_issuer_name");

  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (host != "localhost" && host.find_first_of(",:") == std::string::npos) {
    san = "DNS:" + host + "," + san;
  }
  add_extension(cert.get(), NID_subject_alt_name, san);
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("cannot sign the certificate");

  bio_ptr key_bio(BIO_new(BIO_s_mem()));
  bio_ptr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio) fail("BIO_new");
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    fail("cannot encode the private key");
  }
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) fail("cannot encode the certificate");
  try {
    write_file_atomically(key_path, bio_to_string(key_bio.get()), 0600);
    write_file_atomically(cert_path, bio_to_string(cert_bio.get()), 0644);
  } catch (const std::exception& e) {
    throw tls_setup_error(e.what());
  }
}

}  // namespace

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf.data();
}

void check_certificate_pair(const std::filesystem::path& cert_path,
                            const std::filesystem::path& key_path) {
  bio_ptr cb(BIO_new_file(cert_path.c_str(), "r"));
  if (!cb) fail("cannot read certificate " + cert_path.string());
  x509_ptr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("cannot load certificate " + cert_path.string());
  bio_ptr kb(BIO_new_file(key_path.c_str(), "r"));
  if (!kb) fail("cannot read private key " + key_path.string());
  pkey_ptr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!key) fail("cannot load private key " + key_path.string());
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    fail("private key " + key_path.string() + " does not match certificate " + cert_path.string());
  }
}

tls_files ensure_self_signed_certificate(const std::filesystem::path& dir) {
  tls_files files{dir / "cert.pem", dir / "key.pem", false};
  std::error_code ec;
  if (std::filesystem::exists(files.cert, ec) && std::filesystem::exists(files.key, ec)) {
    return files;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) throw tls_setup_error("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  generate(files.cert, files.key);
  files.generated = true;
  return files;
}

}  // namespace packmail::server
