// MAIL FROM / RCPT TO / LHLO argument grammar (RFC 5321 4.1.2, RFC 1870,
// RFC 6152): paths, the null sender, source routes, quoted local parts,
// parameters, and the errors each bad form gets.
#include <catch2/catch.hpp>

#include "packmail/protocols/lmtp/arguments.h"

using namespace packmail::protocols::lmtp;

namespace {

mail_arguments mail_ok(std::string_view text) {
  auto r = parse_mail_arguments(text);
  INFO(text);
  if (auto* e = std::get_if<argument_error>(&r)) FAIL(e->message);
  return std::get<mail_arguments>(r);
}

argument_error mail_error(std::string_view text) {
  auto r = parse_mail_arguments(text);
  INFO(text);
  REQUIRE(std::holds_alternative<argument_error>(r));
  return std::get<argument_error>(r);
}

address rcpt_ok(std::string_view text) {
  auto r = parse_rcpt_arguments(text);
  INFO(text);
  if (auto* e = std::get_if<argument_error>(&r)) FAIL(e->message);
  return std::get<rcpt_arguments>(r).recipient;
}

argument_error rcpt_error(std::string_view text) {
  auto r = parse_rcpt_arguments(text);
  INFO(text);
  REQUIRE(std::holds_alternative<argument_error>(r));
  return std::get<argument_error>(r);
}

}  // namespace

TEST_CASE("MAIL FROM: a plain address, the null sender, any case, a blank after the colon",
          "[lmtp][arguments]") {
  auto m = mail_ok("FROM:<Chris@Bar.COM>");
  REQUIRE(m.sender);
  CHECK(m.sender->local_part == "Chris");
  CHECK(m.sender->domain == "Bar.COM");
  CHECK(m.sender->text == "Chris@Bar.COM");
  CHECK_FALSE(m.size);
  CHECK(m.body == body_type::unspecified);

  CHECK_FALSE(mail_ok("FROM:<>").sender);
  CHECK(mail_ok("from: <a@b.c>").sender->text == "a@b.c");
}

TEST_CASE("MAIL FROM parameters: SIZE and BODY", "[lmtp][arguments]") {
  auto m = mail_ok("FROM:<a@b> SIZE=12345 body=8bitmime");
  CHECK(m.size == 12345u);
  CHECK(m.body == body_type::eight_bit_mime);
  CHECK(mail_ok("FROM:<> BODY=7BIT").body == body_type::seven_bit);
  // RFC 1870: up to 20 digits; beyond UINT64_MAX saturates (and is refused
  // by the size check).
  CHECK(mail_ok("FROM:<> SIZE=99999999999999999999").size == UINT64_MAX);

  CHECK(mail_error("FROM:<> SIZE=").code == argument_error_code::bad_parameter);
  CHECK(mail_error("FROM:<> SIZE=12x").code == argument_error_code::bad_parameter);
  CHECK(mail_error("FROM:<> SIZE=1 SIZE=2").code == argument_error_code::bad_parameter);
  CHECK(mail_error("FROM:<> SIZE=123456789012345678901").code ==
        argument_error_code::bad_parameter);
  CHECK(mail_error("FROM:<> BODY=BINARYMIME").code == argument_error_code::bad_parameter);
  CHECK(mail_error("FROM:<> BODY").code == argument_error_code::bad_parameter);
  CHECK(mail_error("FROM:<> =x").code == argument_error_code::bad_parameter);
  auto e = mail_error("FROM:<> SMTPUTF8");
  CHECK(e.code == argument_error_code::unknown_parameter);
  CHECK(e.message == "Unsupported parameter SMTPUTF8");
  CHECK(mail_error("FROM:<> RET=FULL").code == argument_error_code::unknown_parameter);
}

TEST_CASE("MAIL FROM syntax errors", "[lmtp][arguments]") {
  CHECK(mail_error("").code == argument_error_code::syntax);
  CHECK(mail_error("TO:<a@b>").code == argument_error_code::syntax);
  CHECK(mail_error("FROM:a@b").code == argument_error_code::syntax);
  CHECK(mail_error("FROM:<a@b>x").code == argument_error_code::syntax);
  CHECK(mail_error("FROM:<a@b").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<a b@c>").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<@c>").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<a@>").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<a@b..c>").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<a@b c>").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<\xc3\xa9@b>").code == argument_error_code::bad_address);
  CHECK(mail_error("FROM:<a@[1.2.3.4>").code == argument_error_code::bad_address);
}

TEST_CASE("RCPT TO: addresses with and without a domain", "[lmtp][arguments]") {
  auto a = rcpt_ok("TO:<alice+work@Example.com>");
  CHECK(a.local_part == "alice+work");
  CHECK(a.domain == "Example.com");
  CHECK(a.text == "alice+work@Example.com");

  a = rcpt_ok("To:<alice>");
  CHECK(a.local_part == "alice");
  CHECK(a.domain.empty());
  CHECK(a.text == "alice");

  CHECK(rcpt_ok("TO:<Postmaster>").local_part == "Postmaster");
  CHECK(rcpt_ok("TO:<a.b-c_d@mail-1.example.org>").domain == "mail-1.example.org");
  CHECK(rcpt_ok("TO:<u@[192.0.2.1]>").domain == "[192.0.2.1]");
  CHECK(rcpt_ok("TO:<u@[IPv6:2001:db8::1]>").domain == "[IPv6:2001:db8::1]");
}

TEST_CASE("RCPT TO: a quoted local part is unquoted; text keeps the quotes", "[lmtp][arguments]") {
  auto a = rcpt_ok(R"(TO:<"john \"jd\" doe"@example.com>)");
  CHECK(a.local_part == R"(john "jd" doe)");
  CHECK(a.domain == "example.com");
  CHECK(a.text == R"("john \"jd\" doe"@example.com)");
  CHECK(rcpt_ok(R"(TO:<"a>b"@c>)").local_part == "a>b");
  CHECK(rcpt_error(R"(TO:<"abc@d>)").code == argument_error_code::bad_address);
}

TEST_CASE("RCPT TO: a source route is accepted and dropped", "[lmtp][arguments]") {
  auto a = rcpt_ok("TO:<@hosta.int,@jkl.org:userc@d.bar.org>");
  CHECK(a.local_part == "userc");
  CHECK(a.domain == "d.bar.org");
  CHECK(a.text == "userc@d.bar.org");
  CHECK(rcpt_error("TO:<@a.b:>").code == argument_error_code::bad_address);
  CHECK(rcpt_error("TO:<@a.b,c:d@e>").code == argument_error_code::bad_address);
}

TEST_CASE("RCPT TO errors: null path, parameters, syntax", "[lmtp][arguments]") {
  CHECK(rcpt_error("TO:<>").code == argument_error_code::bad_address);
  CHECK(rcpt_error("TO:<a@b> NOTIFY=NEVER").code == argument_error_code::unknown_parameter);
  CHECK(rcpt_error("FROM:<a@b>").code == argument_error_code::syntax);
  CHECK(rcpt_error("TO:").code == argument_error_code::syntax);
  CHECK(rcpt_error("TO:<a@b>>").code == argument_error_code::syntax);
}

TEST_CASE("LHLO names: domains and address literals", "[lmtp][arguments]") {
  CHECK(is_valid_client_name("mta.example.com"));
  CHECK(is_valid_client_name("localhost"));
  CHECK(is_valid_client_name("my_host"));
  CHECK(is_valid_client_name("[127.0.0.1]"));
  CHECK(is_valid_client_name("[IPv6:::1]"));
  CHECK_FALSE(is_valid_client_name(""));
  CHECK_FALSE(is_valid_client_name("two words"));
  CHECK_FALSE(is_valid_client_name("a..b"));
  CHECK_FALSE(is_valid_client_name("x\ry"));
  CHECK_FALSE(is_valid_client_name("[a]b]"));
}
