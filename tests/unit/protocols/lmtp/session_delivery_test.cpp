// Delivery: one reply per accepted RCPT in RCPT order (RFC 2033 4.2), one
// stored body for all recipients with a per-recipient prefix, unknown
// recipients refused at RCPT while the others are delivered, DATA without
// recipients, pipelining, duplicates, and line-end normalization.
#include "session_script.h"

using namespace packmail::protocols::lmtp::testing;
namespace storage = packmail::storage;

namespace {

// The prefix a recipient's copy starts with, for a client at 192.0.2.10 that
// said LHLO mta.example, with "{*}" for the id and the date.
std::string prefix_pattern(std::string_view sender, std::string_view rcpt) {
  return "Return-Path: <" + std::string(sender) + ">\r\nDelivered-To: " + std::string(rcpt) +
         "\r\nReceived: from mta.example ([192.0.2.10])\r\n\tby mx.test with LMTP id {*}\r\n\tfor "
         "<" +
         std::string(rcpt) + ">; {*} +0000\r\n";
}

}  // namespace

TEST_CASE("a message to two users: one reply each, one body, prefix + body stored",
          "[lmtp][session][delivery]") {
  test_server server;
  client c(server);
  CHECK(c.greeting() == "220 mx.test packmail LMTP ready\r\n");
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<chris@bar.com> SIZE=40
    S: 250 2.1.0 OK
    C: RCPT TO:<alice@Example.com>
    S: 250 2.1.5 OK
    C: RCPT TO:<bob@example.com>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 Start mail input; end with <CRLF>.<CRLF>
    C: Subject: hello
    C:
    C: Hi there.
    C: .
    S: 250 2.0.0 <alice@Example.com> {*} Saved
    S: 250 2.0.0 <bob@example.com> {*} Saved
  )");
  const std::string body = "Subject: hello\r\n\r\nHi there.\r\n";
  CHECK(server.bodies() == 1);
  for (auto [user, rcpt] : {std::pair{"alice", "alice@Example.com"}, {"bob", "bob@example.com"}}) {
    const auto messages = server.messages(user, "INBOX");
    REQUIRE(messages.size() == 1);
    const std::string stored = server.read(user, "INBOX", messages[0].uid);
    INFO(stored);
    CHECK(stored.ends_with(body));
    CHECK(messages[0].size == stored.size());
    CHECK(messages[0].prefix_size == stored.size() - body.size());
    CHECK(glob_match(prefix_pattern("chris@bar.com", rcpt),
                     stored.substr(0, stored.size() - body.size())));
  }
  // The session is ready for the next transaction.
  run(c, R"(
    C: MAIL FROM:<>
    S: 250 2.1.0 OK
  )");
}

TEST_CASE("the delivery replies carry the id of the Received: line", "[lmtp][session][delivery]") {
  test_server server;
  client c(server);
  lhlo(c);
  const std::string out = c.send("MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\n");
  const auto lines = split_lines(out);
  REQUIRE(lines.size() == 4);
  REQUIRE(lines[3].starts_with("250 2.0.0 <alice> "));
  const std::string id = lines[3].substr(18, lines[3].size() - 18 - 6);
  CHECK(id.size() == 20);
  const std::string stored = server.read("alice", "INBOX", 1);
  CHECK(stored.find("Return-Path: <>\r\n") == 0);
  CHECK(stored.find(" with LMTP id " + id + "\r\n") != std::string::npos);
}

TEST_CASE("an unknown recipient gets 550 5.1.1 at RCPT; the others are delivered",
          "[lmtp][session][delivery]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<chris@bar.com>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice@foo.edu>
    S: 250 2.1.5 OK
    C: RCPT TO:<jones@foo.edu>
    S: 550 5.1.1 <jones@foo.edu> User unknown
    C: RCPT TO:<bob@foo.edu>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: Blah blah blah...
    C: .
    S: 250 2.0.0 <alice@foo.edu> {*} Saved
    S: 250 2.0.0 <bob@foo.edu> {*} Saved
  )");
  CHECK(server.messages("alice", "INBOX").size() == 1);
  CHECK(server.messages("bob", "INBOX").size() == 1);
  CHECK_FALSE(server.store->find_user("jones").ok());
}

TEST_CASE("DATA with no accepted recipient gets 503 (RFC 2033 4.2)", "[lmtp][session][delivery]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<chris@bar.com>
    S: 250 2.1.0 OK
    C: RCPT TO:<jones@foo.edu>
    S: 550 5.1.1 <jones@foo.edu> User unknown
    C: DATA
    S: 503 5.5.1 No valid recipients
    C: RCPT TO:<alice@foo.edu>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: .
    S: 250 2.0.0 <alice@foo.edu> {*} Saved
  )");
  CHECK(server.stats_messages() == 1);
}

TEST_CASE("a pipelined transaction in one chunk, and byte by byte", "[lmtp][session][delivery]") {
  test_server server;
  for (bool byte_by_byte : {false, true}) {
    client c(server);
    run(c, R"(
      C: LHLO mta.example
      C: MAIL FROM:<chris@bar.com>
      C: RCPT TO:<alice@foo.edu>
      C: RCPT TO:<nobody@foo.edu>
      C: RCPT TO:<bob@foo.edu>
      C: DATA
      C: Subject: pipelined
      C:
      C: ..dot
      C: .
      C: QUIT
      S: 250-mx.test
      S: 250-PIPELINING
      S: 250-8BITMIME
      S: 250-ENHANCEDSTATUSCODES
      S: 250 SIZE 67108864
      S: 250 2.1.0 OK
      S: 250 2.1.5 OK
      S: 550 5.1.1 <nobody@foo.edu> User unknown
      S: 250 2.1.5 OK
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      S: 250 2.0.0 <alice@foo.edu> {*} Saved
      S: 250 2.0.0 <bob@foo.edu> {*} Saved
      S: 221 2.0.0 mx.test Bye
    )",
        byte_by_byte);
    CHECK(c.closed());
  }
  CHECK(server.bodies() == 2);
  const std::string stored = server.read("bob", "INBOX", 2);
  CHECK(stored.ends_with("\r\nSubject: pipelined\r\n\r\n.dot\r\n"));
}

TEST_CASE("the same address twice: two replies, one copy; another address of the user: two",
          "[lmtp][session][delivery]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice@foo.edu>
    S: 250 2.1.5 OK
    C: RCPT TO:<ALICE@foo.edu>
    S: 250 2.1.5 OK
    C: RCPT TO:<bob@foo.edu>
    S: 250 2.1.5 OK
    C: RCPT TO:<alice@bar.edu>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: x
    C: .
    S: 250 2.0.0 <alice@foo.edu> {*} Saved
    S: 250 2.0.0 <ALICE@foo.edu> {*} Saved
    S: 250 2.0.0 <bob@foo.edu> {*} Saved
    S: 250 2.0.0 <alice@bar.edu> {*} Saved
  )");
  const auto alice = server.messages("alice", "INBOX");
  REQUIRE(alice.size() == 2);
  CHECK(server.read("alice", "INBOX", alice[0].uid).find("Delivered-To: alice@foo.edu\r\n") !=
        std::string::npos);
  CHECK(server.read("alice", "INBOX", alice[1].uid).find("Delivered-To: alice@bar.edu\r\n") !=
        std::string::npos);
  CHECK(server.messages("bob", "INBOX").size() == 1);
}

TEST_CASE("bare LF line ends are stored as CRLF", "[lmtp][session][delivery]") {
  test_server server;
  client c(server);
  lhlo(c);
  const std::string out =
      c.send("MAIL FROM:<a@b>\nRCPT TO:<alice>\nDATA\nSubject: lf\n\nline\n.line\n.\n");
  check_lines(out, {"250 2.1.0 OK", "250 2.1.5 OK", "354 {*}", "250 2.0.0 <alice> {*} Saved"});
  CHECK(server.read("alice", "INBOX", 1).ends_with("\r\nSubject: lf\r\n\r\nline\r\nline\r\n"));
}

TEST_CASE("Received: names a unix socket client without an address, and can be turned off",
          "[lmtp][session][delivery]") {
  test_server server;
  {
    client c(server, {"unix", 0, false, true});
    lhlo(c);
    c.send("MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\n");
    CHECK(server.read("alice", "INBOX", 1).find("Received: from mta.example\r\n\tby mx.test") !=
          std::string::npos);
  }
  {
    client c(server, {"2001:db8::1", 1, false, false});
    lhlo(c);
    c.send("MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\n");
    CHECK(server.read("alice", "INBOX", 2)
              .find("Received: from mta.example ([IPv6:2001:db8::1])\r\n") != std::string::npos);
  }
  server.config.add_received_header = false;
  client c(server);
  lhlo(c);
  c.send("MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\n");
  CHECK(server.read("alice", "INBOX", 3) == "Return-Path: <a@b>\r\nDelivered-To: alice\r\nx\r\n");
}

TEST_CASE("an empty message is delivered as just the prefix", "[lmtp][session][delivery]") {
  test_server server;
  server.config.add_received_header = false;
  client c(server);
  lhlo(c);
  check_lines(c.send("MAIL FROM:<>\r\nRCPT TO:<bob>\r\nDATA\r\n.\r\n"),
              {"250 2.1.0 OK", "250 2.1.5 OK", "354 {*}", "250 2.0.0 <bob> {*} Saved"});
  CHECK(server.read("bob", "INBOX", 1) == "Return-Path: <>\r\nDelivered-To: bob\r\n");
}
