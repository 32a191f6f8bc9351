// ENVELOPE as rendered on the wire (RFC 3501 7.4.2).
#include <catch2/catch.hpp>
#include <string>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

namespace {
std::string envelope_of(const std::string& raw) { return mime::parse(raw).envelope; }
}  // namespace

TEST_CASE("envelope of a simple message lists every field in RFC 3501 order") {
  std::string raw =
      "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
      "From: Terry Gray <gray@cac.washington.edu>\r\n"
      "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
      "To: imap@cac.washington.edu\r\n"
      "cc: minutes@CNRI.Reston.VA.US, \"John Klensin\" <KLENSIN@MIT.EDU>\r\n"
      "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
      "\r\n"
      "body\r\n";
  // The example of RFC 3501 section 8, with the sender/reply-to defaults.
  CHECK(envelope_of(raw) ==
        "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
        "((NIL NIL \"imap\" \"cac.washington.edu\")) "
        "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" "
        "\"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
}

TEST_CASE("envelope of a message without any header is all NIL") {
  CHECK(envelope_of("") == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  CHECK(envelope_of("\r\nbody only\r\n") == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("envelope keeps explicit sender and reply-to, and defaults empty ones to from") {
  std::string raw =
      "From: a@example.com\r\n"
      "Sender: s@example.com\r\n"
      "Reply-To:\r\n"
      "\r\n";
  CHECK(envelope_of(raw) ==
        "(NIL NIL ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"s\" \"example.com\")) "
        "((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)");
}

TEST_CASE("envelope leaves RFC 2047 encoded words alone and unfolds") {
  std::string raw =
      "Subject: =?UTF-8?B?SGVsbG8=?=\r\n"
      "  world\r\n"
      "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n"
      "\r\n";
  CHECK(envelope_of(raw) ==
        "(NIL \"=?UTF-8?B?SGVsbG8=?=  world\" "
        "((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.com\")) "
        "((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.com\")) "
        "((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.com\")) NIL NIL NIL NIL NIL)");
}

TEST_CASE("envelope escapes quotes and backslashes in quoted strings") {
  std::string raw = "Subject: say \"hi\" \\o/\r\n\r\n";
  CHECK(envelope_of(raw) == "(NIL \"say \\\"hi\\\" \\\\o/\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("envelope sends 8-bit values as literals") {
  std::string raw = "Subject: caf\xc3\xa9\r\n\r\n";
  CHECK(envelope_of(raw) == "(NIL {5}\r\ncaf\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("envelope renders groups with start and end markers") {
  std::string raw =
      "To: A Group:Ed Jones <c@a.test>,joe@where.test;, undisclosed-recipients:;\r\n\r\n";
  CHECK(envelope_of(raw) ==
        "(NIL NIL NIL NIL NIL ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
        "(NIL NIL \"joe\" \"where.test\")(NIL NIL NIL NIL)"
        "(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
}

TEST_CASE("envelope addresses: quoted names, comments, routes, missing parts") {
  std::string raw =
      "To: \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>, jdoe@example.org (John Doe),"
      " <@relay1,@relay2:user@host.test>, localonly\r\n\r\n";
  CHECK(envelope_of(raw) ==
        "(NIL NIL NIL NIL NIL ((\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")"
        "(\"John Doe\" NIL \"jdoe\" \"example.org\")"
        "(NIL \"@relay1,@relay2\" \"user\" \"host.test\")"
        "(NIL NIL \"localonly\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
}

TEST_CASE("envelope takes in-reply-to and message-id as written") {
  std::string raw =
      "In-Reply-To: <parent@example.com>\r\n"
      "Message-ID:\r\n <child@example.com>\r\n"
      "\r\n";
  CHECK(envelope_of(raw) ==
        "(NIL NIL NIL NIL NIL NIL NIL NIL \"<parent@example.com>\" \"<child@example.com>\")");
}

TEST_CASE("envelope accepts LF-only line ends") {
  std::string raw = "Subject: lf\nFrom: x@y.test\n\nbody\n";
  CHECK(envelope_of(raw) ==
        "(NIL \"lf\" ((NIL NIL \"x\" \"y.test\")) ((NIL NIL \"x\" \"y.test\")) "
        "((NIL NIL \"x\" \"y.test\")) NIL NIL NIL NIL NIL)");
}
