// Size and recipient limits: SIZE over the limit refused at MAIL, data over
// the limit read to its end and refused per recipient with nothing stored,
// too many recipients.
#include "session_script.h"

using namespace packmail::protocols::lmtp::testing;

TEST_CASE("SIZE over the limit gets 552 5.3.4 at MAIL (RFC 1870 6.1)", "[lmtp][session][limits]") {
  test_server server;
  server.config.max_message_size = 100;
  client c(server);
  run(c, R"(
    C: LHLO mta.example
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SIZE 100
    C: MAIL FROM:<a@b> SIZE=101
    S: 552 5.3.4 Message size exceeds fixed maximum message size
    C: MAIL FROM:<a@b> SIZE=99999999999999999999
    S: 552 5.3.4 Message size exceeds fixed maximum message size
    C: RCPT TO:<alice>
    S: 503 5.5.1 Need MAIL command first
    C: MAIL FROM:<a@b> SIZE=100
    S: 250 2.1.0 OK
  )");
}

TEST_CASE("data over the limit: 552 5.3.4 per recipient, nothing stored, session usable",
          "[lmtp][session][limits]") {
  test_server server;
  server.config.max_message_size = 100;
  client c(server);
  lhlo(c);
  std::string big;
  for (int i = 0; i < 50; ++i) big += "C: 0123456789\n";
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice>
    S: 250 2.1.5 OK
    C: RCPT TO:<bob>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
  )" + big + R"(
    C: .
    S: 552 5.3.4 <alice> Message size exceeds fixed maximum message size
    S: 552 5.3.4 <bob> Message size exceeds fixed maximum message size
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: small
    C: .
    S: 250 2.0.0 <alice> {*} Saved
  )");
  CHECK(server.bodies() == 1);
  CHECK(server.stats_messages() == 1);
}

TEST_CASE("a message of exactly the limit is accepted", "[lmtp][session][limits]") {
  test_server server;
  server.config.max_message_size = 10;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: 12345678
    C: .
    S: 250 2.0.0 <alice> {*} Saved
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: 123456789
    C: .
    S: 552 5.3.4 <alice> Message size exceeds fixed maximum message size
  )");
}

TEST_CASE("more than max_recipients get 452 4.5.3; the accepted ones are delivered",
          "[lmtp][session][limits]") {
  test_server server;
  server.config.max_recipients = 2;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<nobody>
    S: 550 5.1.1 <nobody> User unknown
    C: RCPT TO:<alice>
    S: 250 2.1.5 OK
    C: RCPT TO:<bob>
    S: 250 2.1.5 OK
    C: RCPT TO:<alice+x>
    S: 452 4.5.3 Too many recipients
    C: DATA
    S: 354 {*}
    C: x
    C: .
    S: 250 2.0.0 <alice> {*} Saved
    S: 250 2.0.0 <bob> {*} Saved
  )");
}
