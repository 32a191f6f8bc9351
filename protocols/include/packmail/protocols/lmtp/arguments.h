// The arguments of LHLO, MAIL and RCPT (RFC 5321 4.1.1, 4.1.2; SIZE from
// RFC 1870, BODY from RFC 6152):
//
//   "LHLO" SP ( Domain / address-literal )
//   "MAIL FROM:" ( "<>" / Reverse-path ) [ SP Mail-parameters ]
//   "RCPT TO:" Forward-path [ SP Rcpt-parameters ]
//
// Lenient where real clients differ from the grammar: blanks after the colon,
// keywords in any case, a source route ("<@a,@b:user@c>") accepted and
// dropped (RFC 5321 4.1.2), and a local part without a domain ("<alice>",
// which LMTP clients use for local users). Addresses are ASCII: the server
// does not offer SMTPUTF8.
//
// I/O-free and total: every input gets a value or an error (fuzzed with the
// parser).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace packmail::protocols::lmtp {

struct address {
  // The local part, unquoted: "john doe" for "\"john doe\"@example.com".
  std::string local_part;
  // The domain as sent ("Example.COM", "[192.0.2.1]"); empty when the
  // address has none.
  std::string domain;
  // The address as sent, without brackets and source route: printable ASCII,
  // safe to put into a header ("\"john doe\"@Example.COM").
  std::string text;
};

enum class body_type { unspecified, seven_bit, eight_bit_mime };

struct mail_arguments {
  std::optional<address> sender;      // nullopt: the null reverse-path "<>"
  std::optional<std::uint64_t> size;  // SIZE=; UINT64_MAX when the number overflows
  body_type body = body_type::unspecified;
};

struct rcpt_arguments {
  address recipient;
};

enum class argument_error_code {
  syntax,             // 501 5.5.4: not "FROM:<...>" / "TO:<...>"
  bad_address,        // 501 5.1.7 (sender) / 501 5.1.3 (recipient)
  bad_parameter,      // 501 5.5.4: a known parameter with a bad or repeated value
  unknown_parameter,  // 555 5.5.4 (RFC 5321 4.1.1.11)
};

struct argument_error {
  argument_error_code code = argument_error_code::syntax;
  std::string message;  // "Unsupported parameter FOO"
};

template <class T>
using argument_result = std::variant<T, argument_error>;

// `arguments` as reported in command::arguments (after "MAIL ").
argument_result<mail_arguments> parse_mail_arguments(std::string_view arguments);
// `arguments` after "RCPT ".
argument_result<rcpt_arguments> parse_rcpt_arguments(std::string_view arguments);
// A Domain or an address-literal, as LHLO's argument. Lenient: '_' allowed.
bool is_valid_client_name(std::string_view name);

}  // namespace packmail::protocols::lmtp
