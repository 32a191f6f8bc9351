// user+folder@domain: the resolver's folder is used when that mailbox exists
// (exact name; INBOX in any case), else the message goes to INBOX.
#include "session_script.h"

using namespace packmail::protocols::lmtp::testing;

TEST_CASE("a +folder recipient delivers into the folder when it exists",
          "[lmtp][session][folder]") {
  test_server server;
  const auto alice = server.store->ensure_user("alice").value();
  REQUIRE(server.store->create_mailbox(alice, "work").ok());
  REQUIRE(server.store->create_mailbox(alice, "lists/dev").ok());
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice+work@example.com>
    S: 250 2.1.5 OK
    C: RCPT TO:<alice+lists/dev@example.com>
    S: 250 2.1.5 OK
    C: RCPT TO:<alice+Work@example.com>
    S: 250 2.1.5 OK
    C: RCPT TO:<alice+nosuch@example.com>
    S: 250 2.1.5 OK
    C: RCPT TO:<alice+inbox@example.com>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: x
    C: .
    S: 250 2.0.0 <alice+work@example.com> {*} Saved
    S: 250 2.0.0 <alice+lists/dev@example.com> {*} Saved
    S: 250 2.0.0 <alice+Work@example.com> {*} Saved
    S: 250 2.0.0 <alice+nosuch@example.com> {*} Saved
    S: 250 2.0.0 <alice+inbox@example.com> {*} Saved
  )");
  CHECK(server.messages("alice", "work").size() == 1);
  CHECK(server.messages("alice", "lists/dev").size() == 1);
  // "Work" does not match "work", nosuch does not exist, "inbox" is INBOX.
  const auto inbox = server.messages("alice", "INBOX");
  REQUIRE(inbox.size() == 3);
  CHECK(server.read("alice", "INBOX", inbox[0].uid)
            .find("Delivered-To: alice+Work@example.com\r\n") != std::string::npos);
  CHECK(server.read("alice", "INBOX", inbox[2].uid)
            .find("Delivered-To: alice+inbox@example.com\r\n") != std::string::npos);
  CHECK(server.bodies() == 1);
  CHECK(server.read("alice", "work", 1).find("Delivered-To: alice+work@example.com\r\n") !=
        std::string::npos);
}

TEST_CASE("a +folder recipient of a new user lands in INBOX; the user is created",
          "[lmtp][session][folder]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<bob+work@example.com>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: x
    C: .
    S: 250 2.0.0 <bob+work@example.com> {*} Saved
  )");
  CHECK(server.messages("bob", "INBOX").size() == 1);
}
