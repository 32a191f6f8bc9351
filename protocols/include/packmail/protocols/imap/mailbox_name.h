// Mailbox names in modified UTF-7 (RFC 3501 5.1.3), the form IMAP4rev1
// clients send and expect unless UTF8=ACCEPT is enabled (RFC 6855). The store
// keeps names in UTF-8.
#pragma once

#include <string>
#include <string_view>

#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

// Decodes to UTF-8. Rejects what RFC 3501 5.1.3 forbids: octets outside
// 0x20-0x7e, "&" without its "-", characters outside modified BASE64, bits
// left over or non-zero padding, unpaired UTF-16 surrogates, printable ASCII
// encoded in BASE64, and null shifts ("-&" between two BASE64 runs).
syntax_result<std::string> mutf7_to_utf8(std::string_view name);

// Encodes valid UTF-8 (rejects overlong forms, surrogates and code points
// above U+10FFFF). The result is the one canonical form, so
// mutf7_to_utf8(utf8_to_mutf7(x)) == x.
syntax_result<std::string> utf8_to_mutf7(std::string_view name);

}  // namespace packmail::protocols::imap
