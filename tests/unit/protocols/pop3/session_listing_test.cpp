// STAT, LIST and UIDL (RFC 1939 5, 7): exact octet counts from the store,
// Dovecot-format UIDLs, deleted messages left out, and the login snapshot.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;

namespace {

// Three messages of 21, 22 and 31 octets (CRLF line ends).
void deliver_three(test_server& server) {
  server.deliver("Subject: a\n\nhello\n");
  server.deliver("Subject: b\n\nworld!\n");
  server.deliver("Subject: c\n\nline1\nline2\n.\n");
}

}  // namespace

TEST_CASE("STAT and LIST", "[pop3][session][list]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, R"(
    C: STAT
    S: +OK 3 74
    C: LIST
    S: +OK 3 messages (74 octets)
    S: 1 21
    S: 2 22
    S: 3 31
    S: .
    C: LIST 2
    S: +OK 2 22
    C: LIST 4
    S: -ERR No such message, only 3 messages in maildrop
    C: LIST 1 2
    S: -ERR Too many arguments
  )");
}

TEST_CASE("UIDL: uid then uidvalidity, 8 upper-case hex digits each", "[pop3][session][list]") {
  test_server server;
  deliver_three(server);
  const auto box = server.inbox();
  const auto uids = server.uids();
  client c(server);
  login(c);
  run(c, "C: UIDL\nS: +OK Unique-ID listing follows\nS: 1 " + uidl_of(uids[0], box) + "\nS: 2 " +
             uidl_of(uids[1], box) + "\nS: 3 " + uidl_of(uids[2], box) +
             "\nS: .\nC: UIDL 3\nS: +OK 3 " + uidl_of(uids[2], box) + "\n");
  // The format, spelled out for one UID.
  char expected[17];
  std::snprintf(expected, sizeof expected, "00000003%08X", box.uidvalidity);
  CHECK(uidl_of(uids[2], box) == expected);
}

TEST_CASE("UIDLs are stable across sessions and unique", "[pop3][session][list]") {
  test_server server;
  deliver_three(server);
  auto uidl_lines = [&] {
    client c(server);
    login(c);
    const std::string out = c.send("UIDL\r\nQUIT\r\n");
    return out;
  };
  const std::string first = uidl_lines();
  CHECK(first == uidl_lines());
  const auto lines = split_lines(first);
  REQUIRE(lines.size() == 6);
  CHECK(lines[1].substr(2) != lines[2].substr(2));
  CHECK(lines[2].substr(2) != lines[3].substr(2));
}

TEST_CASE("deleted messages are left out of STAT, LIST and UIDL", "[pop3][session][list]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, R"(
    C: DELE 2
    S: +OK Message 2 deleted
    C: STAT
    S: +OK 2 52
    C: LIST
    S: +OK 2 messages (52 octets)
    S: 1 21
    S: 3 31
    S: .
    C: LIST 2
    S: -ERR Message 2 already deleted
    C: UIDL 2
    S: -ERR Message 2 already deleted
    C: UIDL
    S: +OK Unique-ID listing follows
    S: 1 {*}
    S: 3 {*}
    S: .
  )");
}

TEST_CASE("messages delivered after login are not seen", "[pop3][session][list]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  server.deliver("Subject: late\n\nlate\n");
  run(c, R"(
    C: STAT
    S: +OK 3 74
    C: LIST 4
    S: -ERR No such message, only 3 messages in maildrop
  )");
  client d(server);
  c.send("QUIT\r\n");
  login(d);
  run(d, "C: STAT\nS: +OK 4 {*}\n");
}

TEST_CASE("an empty maildrop", "[pop3][session][list]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: STAT
    S: +OK 0 0
    C: LIST
    S: +OK 0 messages (0 octets)
    S: .
    C: UIDL
    S: +OK Unique-ID listing follows
    S: .
    C: LIST 1
    S: -ERR No such message, only 0 messages in maildrop
  )");
}
