// base64 (RFC 4648 4) decoding for the SASL exchanges of every protocol
// (IMAP AUTHENTICATE, POP3 AUTH; RFC 4422 carries its responses in base64).
// Private to protocols/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace packmail::protocols {

// Decodes `in`: RFC 4648 4 base64 with padding ("=" only in the last two
// places of the last 4-character quantum), no whitespace, no line breaks.
// nullopt when malformed: a length that is not a multiple of 4, a character
// outside the alphabet, or misplaced padding. The empty string decodes to
// the empty string. Bits past the last whole octet are ignored, not checked.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace packmail::protocols
