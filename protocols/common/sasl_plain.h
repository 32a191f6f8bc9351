// The SASL PLAIN mechanism's one message (RFC 4616 2), as IMAP AUTHENTICATE
// and POP3 AUTH receive it in base64. Private to protocols/.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace packmail::protocols {

// The three fields of "[authzid] NUL authcid NUL passwd", decoded. The
// password is everything after the second NUL, further NULs included.
struct sasl_plain_credentials {
  std::string authzid;  // empty when the client sent none
  std::string authcid;
  std::string password;

  // The client asks to act as another user than the one it authenticates
  // as. Not supported: the caller treats it as a failed login.
  bool authorizes_other_user() const { return !authzid.empty() && authzid != authcid; }
};

enum class sasl_plain_error {
  bad_base64,  // not RFC 4648 base64 (base64_decode refused it)
  bad_format,  // decoded, but fewer than two NULs
};

using sasl_plain_result = std::variant<sasl_plain_credentials, sasl_plain_error>;

// Decodes and splits a PLAIN response. The empty string (an empty initial
// response) is bad_format.
sasl_plain_result parse_sasl_plain(std::string_view base64);

}  // namespace packmail::protocols
