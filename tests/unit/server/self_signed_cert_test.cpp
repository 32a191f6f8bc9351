#include "tls/self_signed_cert.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <ctime>

#include "temp_dir.h"
#include "users/passwd_edit.h"

using namespace packmail::server;

namespace {

X509* load_cert(const std::filesystem::path& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  REQUIRE(f);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(cert);
  return cert;
}

}  // namespace

TEST_CASE("generates a P-256 key (0600) and a 10-year certificate for localhost") {
  testing::temp_dir dir;
  const auto files = ensure_self_signed_certificate(dir / "tls");
  CHECK(files.generated);
  CHECK(files.cert == dir / "tls" / "cert.pem");
  CHECK(files.key == dir / "tls" / "key.pem");
  struct stat st {};
  REQUIRE(::stat(files.key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_NOTHROW(check_certificate_pair(files.cert, files.key));

  X509* cert = load_cert(files.cert);
  CHECK(X509_get_version(cert) == 2);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  REQUIRE(key);
  CHECK(EVP_PKEY_is_a(key, "EC"));
  // Valid now and still in 9 years; expired in 11.
  std::time_t now = std::time(nullptr);
  std::time_t t9 = now + 9L * 365 * 86400, t11 = now + 11L * 365 * 86400;
  CHECK(X509_cmp_time(X509_get0_notBefore(cert), &now) <= 0);
  CHECK(X509_cmp_time(X509_get0_notAfter(cert), &t9) > 0);
  CHECK(X509_cmp_time(X509_get0_notAfter(cert), &t11) < 0);
  // The names clients check.
  CHECK(X509_check_host(cert, "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(cert, "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert, "::1", 0) == 1);
  CHECK(X509_check_ip_asc(cert, "10.0.0.1", 0) != 1);
  CHECK(X509_verify(cert, key) == 1);  // self-signed
  X509_free(cert);
}

TEST_CASE("an existing pair is reused, not regenerated") {
  testing::temp_dir dir;
  const auto first = ensure_self_signed_certificate(dir.path());
  const auto cert = read_text_file(first.cert);
  const auto key = read_text_file(first.key);
  const auto second = ensure_self_signed_certificate(dir.path());
  CHECK_FALSE(second.generated);
  CHECK(read_text_file(second.cert) == cert);
  CHECK(read_text_file(second.key) == key);
}

TEST_CASE("a half pair (key without certificate) is regenerated") {
  testing::temp_dir dir;
  const auto first = ensure_self_signed_certificate(dir.path());
  const auto old_cert = read_text_file(first.cert);
  std::filesystem::remove(first.cert);
  const auto second = ensure_self_signed_certificate(dir.path());
  CHECK(second.generated);
  CHECK(read_text_file(second.cert) != old_cert);
  CHECK_NOTHROW(check_certificate_pair(second.cert, second.key));
}

TEST_CASE("a key that does not match the certificate is refused") {
  testing::temp_dir a, b;
  const auto one = ensure_self_signed_certificate(a.path());
  const auto two = ensure_self_signed_certificate(b.path());
  CHECK_THROWS_WITH(check_certificate_pair(one.cert, two.key), Catch::Contains("does not match"));
  CHECK_THROWS_AS(check_certificate_pair(a / "missing.pem", one.key), tls_setup_error);
}
