// RETR and TOP (RFC 1939 7): byte-stuffing, the terminator, TOP's line
// counts, and messages gone or unreadable in the store.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
namespace storage = packmail::storage;

TEST_CASE("RETR sends the message with its octet count", "[pop3][session][retr]") {
  test_server server;
  server.deliver("Subject: a\n\nhello\n");
  client c(server);
  login(c);
  CHECK(c.send("RETR 1\r\n") == "+OK 21 octets\r\nSubject: a\r\n\r\nhello\r\n.\r\n");
}

TEST_CASE("RETR byte-stuffs lines starting with a dot", "[pop3][session][retr]") {
  test_server server;
  server.deliver(".starts\n\n.\n..two\nmid.dle\n.\n");
  client c(server);
  login(c);
  CHECK(c.send("RETR 1\r\n") ==
        "+OK 33 octets\r\n"
        "..starts\r\n\r\n..\r\n...two\r\nmid.dle\r\n..\r\n.\r\n");
}

TEST_CASE("RETR ends a message without a final CRLF before the terminator",
          "[pop3][session][retr]") {
  test_server server;
  server.deliver("Subject: a\r\n\r\nno end", "alice", true);
  server.deliver("Subject: b\n\nbare LF\n.dot\n", "alice", true);
  client c(server);
  login(c);
  CHECK(c.send("RETR 1\r\n") == "+OK 20 octets\r\nSubject: a\r\n\r\nno end\r\n.\r\n");
  // Bare LF line ends go out as CRLF, stuffed the same way.
  CHECK(c.send("RETR 2\r\n") == "+OK 25 octets\r\nSubject: b\r\n\r\nbare LF\r\n..dot\r\n.\r\n");
}

TEST_CASE("RETR of a large message", "[pop3][session][retr]") {
  test_server server;
  std::string body;
  for (int i = 0; i < 20000; ++i) body += (i % 7 == 0 ? "." : "") + std::to_string(i) + "\n";
  server.deliver("Subject: big\n\n" + body);
  client c(server);
  login(c);
  const std::string out = c.send("RETR 1\r\n");
  CHECK(out.starts_with("+OK "));
  CHECK(out.ends_with("\r\n.\r\n"));
  // Unstuffing gives back the stored bytes.
  std::string unstuffed;
  const auto lines = split_lines(out);
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.starts_with(".")) l.remove_prefix(1);
    unstuffed += std::string(l) + "\r\n";
  }
  CHECK(unstuffed == server.memory->read_message(server.inbox().id, 1).value());
}

TEST_CASE("TOP: header, blank line, then n body lines", "[pop3][session][top]") {
  test_server server;
  server.deliver("Subject: t\nX: y\n\n1\n.2\n3\n");
  client c(server);
  login(c);
  CHECK(c.send("TOP 1 0\r\n") == "+OK Top of message follows\r\nSubject: t\r\nX: y\r\n\r\n.\r\n");
  CHECK(c.send("TOP 1 2\r\n") ==
        "+OK Top of message follows\r\nSubject: t\r\nX: y\r\n\r\n1\r\n..2\r\n.\r\n");
  CHECK(c.send("TOP 1 3\r\n") ==
        "+OK Top of message follows\r\nSubject: t\r\nX: y\r\n\r\n1\r\n..2\r\n3\r\n.\r\n");
  // More lines than the body has, even past 2^64: the whole message.
  CHECK(c.send("TOP 1 99\r\n") == c.send("TOP 1 99999999999999999999999\r\n"));
  CHECK(c.send("TOP 1 99\r\n") ==
        "+OK Top of message follows\r\nSubject: t\r\nX: y\r\n\r\n1\r\n..2\r\n3\r\n.\r\n");
}

TEST_CASE("TOP of a message without a body", "[pop3][session][top]") {
  test_server server;
  server.deliver("Subject: only a header\n");
  client c(server);
  login(c);
  CHECK(c.send("TOP 1 5\r\n") == "+OK Top of message follows\r\nSubject: only a header\r\n.\r\n");
}

TEST_CASE("TOP does not mark the message seen, RETR does at QUIT", "[pop3][session][top]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  server.deliver("Subject: b\n\ny\n");
  client c(server);
  login(c);
  c.send("TOP 1 0\r\nRETR 2\r\n");
  const auto box = server.inbox().id;
  CHECK((server.memory->get_message(box, 2).value().flags & storage::flag_seen) == 0);
  run(c, "C: QUIT\nS: +OK Logging out; 0 messages deleted\n");
  CHECK((server.memory->get_message(box, 1).value().flags & storage::flag_seen) == 0);
  CHECK((server.memory->get_message(box, 2).value().flags & storage::flag_seen) != 0);
}

TEST_CASE("TOP and RETR arguments", "[pop3][session][top]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  client c(server);
  login(c);
  run(c, R"(
    C: TOP 1
    S: -ERR TOP needs a message number and a line count
    C: TOP 1 -1
    S: -ERR Invalid line count
    C: TOP 1 x
    S: -ERR Invalid line count
    C: TOP 2 1
    S: -ERR No such message, only 1 messages in maildrop
    C: RETR
    S: -ERR RETR needs one message number
    C: RETR 1 2
    S: -ERR RETR needs one message number
  )");
}

TEST_CASE("RETR of a message another session expunged", "[pop3][session][retr]") {
  test_server server;
  const auto first = server.deliver("Subject: a\n\nx\n");
  server.deliver("Subject: b\n\ny\n");
  client c(server);
  login(c);
  const storage::imap_uid gone[] = {first};
  REQUIRE(server.memory->expunge(server.inbox().id, gone).ok());
  run(c, R"(
    C: RETR 1
    S: -ERR Message was deleted by another session
    C: TOP 1 0
    S: -ERR Message was deleted by another session
    C: RETR 2
    S: +OK 17 octets
    S: Subject: b
    S:
    S: y
    S: .
    C: DELE 1
    S: +OK Message 1 deleted
    C: QUIT
    S: +OK Logging out; 1 messages deleted
  )");
  CHECK(server.uids().size() == 1);
}

TEST_CASE("unreadable messages answer SYS/PERM or SYS/TEMP", "[pop3][session][retr]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  client c(server);
  login(c);
  server.store.fail_read = storage::errc::corrupt;
  run(c, "C: RETR 1\nS: -ERR [SYS/PERM] Stored data failed verification\n");
  server.store.fail_read = storage::errc::temporary;
  run(c, "C: TOP 1 0\nS: -ERR [SYS/TEMP] Temporary failure, try again later\n");
  server.store.fail_read.reset();
  run(c, "C: RETR 1\nS: +OK 17 octets\nS: Subject: a\nS:\nS: x\nS: .\n");
}
