// The LMTP commands outside delivery: LHLO and its capabilities, HELO/EHLO
// refused, commands in the wrong order, RSET, NOOP, VRFY, HELP, unknown and
// unimplemented commands, bad lines.
#include "session_script.h"

using namespace packmail::protocols::lmtp::testing;

TEST_CASE("LHLO advertises PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES and SIZE", "[lmtp][session]") {
  test_server server;
  server.config.max_message_size = 1000000;
  client c(server);
  run(c, R"(
    C: LHLO mta.example
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SIZE 1000000
  )");
}

TEST_CASE("LHLO needs a valid domain", "[lmtp][session]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: LHLO
    S: 501 5.5.4 Syntax: LHLO <domain>
    C: LHLO two words
    S: 501 5.5.4 Invalid domain name
    C: LHLO [127.0.0.1]
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SIZE 67108864
  )");
}

TEST_CASE("HELO and EHLO get 500: this is LMTP (RFC 2033 4.1)", "[lmtp][session]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: HELO mta.example
    S: 500 5.5.1 This is LMTP: use LHLO
    C: EHLO mta.example
    S: 500 5.5.1 This is LMTP: use LHLO
    C: MAIL FROM:<a@b>
    S: 503 5.5.1 Send LHLO first
  )");
}

TEST_CASE("commands out of order get 503 5.5.1", "[lmtp][session]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: RCPT TO:<alice@x>
    S: 503 5.5.1 Send LHLO first
    C: DATA
    S: 503 5.5.1 Send LHLO first
  )");
  lhlo(c);
  run(c, R"(
    C: RCPT TO:<alice@x>
    S: 503 5.5.1 Need MAIL command first
    C: DATA
    S: 503 5.5.1 Need MAIL command first
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: MAIL FROM:<a@b>
    S: 503 5.5.1 Nested MAIL command
  )");
}

TEST_CASE("RSET ends the transaction; LHLO does too", "[lmtp][session]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: RSET
    S: 250 2.0.0 OK
    C: MAIL FROM:<a@b>
    S: 503 5.5.1 Send LHLO first
  )");
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice@x>
    S: 250 2.1.5 OK
    C: RSET
    S: 250 2.0.0 OK
    C: DATA
    S: 503 5.5.1 Need MAIL command first
    C: RSET now
    S: 501 5.5.4 Syntax: RSET
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
  )");
  lhlo(c);
  run(c, R"(
    C: RCPT TO:<alice@x>
    S: 503 5.5.1 Need MAIL command first
  )");
}

TEST_CASE("NOOP, VRFY, HELP and QUIT", "[lmtp][session]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: NOOP
    S: 250 2.0.0 OK
    C: noop with an argument
    S: 250 2.0.0 OK
    C: VRFY alice
    S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
    C: VRFY
    S: 501 5.5.4 Syntax: VRFY <address>
    C: HELP
    S: 214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP
    C: QUIT now
    S: 501 5.5.4 Syntax: QUIT
  )");
  CHECK_FALSE(c.closed());
  run(c, R"(
    C: QUIT
    C: NOOP
    S: 221 2.0.0 mx.test Bye
  )");
  CHECK(c.closed());
}

TEST_CASE("unknown and unimplemented commands", "[lmtp][session]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: FROB
    S: 500 5.5.1 Unknown command
    C: BDAT 10 LAST
    S: 502 5.5.1 Command not implemented
    C: STARTTLS
    S: 502 5.5.1 Command not implemented
    C: EXPN staff
    S: 502 5.5.1 Command not implemented
    C:
    S: 500 5.5.2 Empty command
  )");
}

TEST_CASE("a line over max_line gets 500 5.5.2 and the session goes on", "[lmtp][session]") {
  test_server server;
  server.config.max_line = 64;
  client c(server);
  lhlo(c);
  run(c, "C: MAIL FROM:<" + std::string(100, 'a') + "@example.com>\n" + R"(
    S: 500 5.5.2 Line too long
    C: MAIL FROM:<a@example.com>
    S: 250 2.1.0 OK
  )");
  // Byte by byte, the error comes once.
  run(c, "C: RCPT TO:<" + std::string(1000, 'b') + ">\nC: RCPT TO:<bob@x>\n" + R"(
    S: 500 5.5.2 Line too long
    S: 250 2.1.5 OK
  )",
      true);
}

TEST_CASE("bad MAIL and RCPT arguments get their codes", "[lmtp][session]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:a@b
    S: 501 5.5.4 Address must be enclosed in <>
    C: MAIL TO:<a@b>
    S: 501 5.5.4 Syntax: MAIL FROM:<address> [parameters]
    C: MAIL FROM:<a b@c>
    S: 501 5.1.7 Bad character in address
    C: MAIL FROM:<a@b> AUTH=<>
    S: 555 5.5.4 Unsupported parameter AUTH
    C: MAIL FROM:<a@b> BODY=BINARYMIME
    S: 501 5.5.4 Unsupported BODY type
    C: MAIL FROM:<> BODY=8BITMIME SIZE=100
    S: 250 2.1.0 OK
    C: RCPT TO:<>
    S: 501 5.1.3 Empty address
    C: RCPT TO:<alice@x> NOTIFY=NEVER
    S: 555 5.5.4 Unsupported parameter NOTIFY
    C: RCPT TO:alice
    S: 501 5.5.4 Address must be enclosed in <>
    C: DATA now
    S: 501 5.5.4 Syntax: DATA
    C: DATA
    S: 503 5.5.1 No valid recipients
  )");
}
