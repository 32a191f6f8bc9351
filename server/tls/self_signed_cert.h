// The certificate packmaild serves on IMAPS/POP3S and after STARTTLS.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace packmail::server {

struct tls_files {
  std::filesystem::path cert;  // PEM, the chain
  std::filesystem::path key;   // PEM, the private key
  bool generated = false;      // created by this call
};

class tls_setup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// This machine's name (gethostname), or "localhost" when it has none: the
// self-signed certificate's CN and the name the protocols greet with.
std::string host_name();

// Returns <dir>/cert.pem and <dir>/key.pem, first generating them when either
// is missing: an EC P-256 key (mode 0600) and a self-signed X.509 v3
// certificate, CN = host name, subjectAltName DNS:localhost, DNS:<host name>,
// IP:127.0.0.1, IP:::1, valid from now for 10 years. Files are written
// atomically, key before certificate, so a crash leaves no half pair that
// would be reused. Throws tls_setup_error.
tls_files ensure_self_signed_certificate(const std::filesystem::path& dir);

// Throws tls_setup_error unless the files load and the key matches the
// certificate ("cannot load certificate X: ...").
void check_certificate_pair(const std::filesystem::path& cert, const std::filesystem::path& key);

}  // namespace packmail::server
