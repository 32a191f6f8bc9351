// FETCH and UID FETCH: data items, sections of nested parts, partial ranges,
// and \Seen set by BODY[] but not BODY.PEEK[].
#include "../fault_store.h"
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

namespace {

constexpr std::string_view k_simple = "Subject: hi\n\nHello world\n";

constexpr std::string_view k_multipart =
    "From: Alice <alice@example.com>\n"
    "Subject: Hello\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
    "\n"
    "--b1\n"
    "Content-Type: text/plain\n"
    "\n"
    "Part one.\n"
    "--b1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inner\n"
    "\n"
    "Inner body.\n"
    "--b1--\n";

void select_inbox(client& c, std::string_view exists) {
  run(c, R"(
    C: s1 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * )" + std::string(exists) +
             R"( EXISTS
    S: * 0 RECENT
    S: * OK [UNSEEN 1] First unseen
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT {*}] Predicted next UID
    S: s1 OK [READ-WRITE] SELECT completed
  )");
}

}  // namespace

TEST_CASE("FETCH FLAGS, UID, INTERNALDATE, RFC822.SIZE and macros", "[imap][session][fetch]") {
  test_server server;
  // 2003-07-01 08:52:37 UTC.
  server.deliver("alice", "INBOX", k_simple, storage::flag_flagged, 1057049557);
  client c(server);
  login(c);
  select_inbox(c, "1");
  run(c, R"(
    C: a1 FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE)
    S: * 1 FETCH (UID 1 FLAGS (\Flagged) RFC822.SIZE 28 INTERNALDATE " 1-Jul-2003 08:52:37 +0000")
    S: a1 OK FETCH completed
    C: a2 UID FETCH 1:* FLAGS
    S: * 1 FETCH (UID 1 FLAGS (\Flagged))
    S: a2 OK UID FETCH completed
    C: a3 FETCH 1 FAST
    S: * 1 FETCH (FLAGS (\Flagged) INTERNALDATE " 1-Jul-2003 08:52:37 +0000" RFC822.SIZE 28)
    S: a3 OK FETCH completed
    C: a4 FETCH 2 FLAGS
    S: a4 BAD Invalid message sequence number
    C: a5 UID FETCH 5 FLAGS
    S: a5 OK UID FETCH completed
    C: a6 FETCH 1 (ENVELOPE BODYSTRUCTURE BODY)
    S: * 1 FETCH (ENVELOPE (NIL "hi" {*}) BODYSTRUCTURE ("TEXT" "PLAIN" {*} 13 1 NIL NIL NIL NIL) BODY ("TEXT" "PLAIN" {*} 13 1))
    S: a6 OK FETCH completed
    C: a7 FETCH 1 BOGUS
    S: a7 BAD {*}
  )");
}

TEST_CASE("BODY.PEEK leaves \\Seen alone; BODY[] sets it and reports FLAGS",
          "[imap][session][fetch]") {
  test_server server;
  server.deliver("alice", "INBOX", k_simple);
  client c(server);
  login(c);
  select_inbox(c, "1");
  run(c, R"(
    C: a1 FETCH 1 BODY.PEEK[]
    S: * 1 FETCH (BODY[] {28}
    S: Subject: hi
    S:
    S: Hello world
    S: )
    S: a1 OK FETCH completed
    C: a2 FETCH 1 FLAGS
    S: * 1 FETCH (FLAGS ())
    S: a2 OK FETCH completed
    C: a3 FETCH 1 BODY[TEXT]
    S: * 1 FETCH (BODY[TEXT] {13}
    S: Hello world
    S:  FLAGS (\Seen))
    S: a3 OK FETCH completed
    C: a4 FETCH 1 (BODY[HEADER] RFC822.HEADER)
    S: * 1 FETCH (BODY[HEADER] {15}
    S: Subject: hi
    S:
    S:  RFC822.HEADER {15}
    S: Subject: hi
    S:
    S: )
    S: a4 OK FETCH completed
    C: a5 FETCH 1 BODY.PEEK[]<0.7>
    S: * 1 FETCH (BODY[]<0> {7}
    S: Subject)
    S: a5 OK FETCH completed
    C: a6 FETCH 1 BODY.PEEK[]<100.7>
    S: * 1 FETCH (BODY[]<100> {0}
    S: )
    S: a6 OK FETCH completed
  )");
}

TEST_CASE("EXAMINE never sets \\Seen", "[imap][session][fetch]") {
  test_server server;
  server.deliver("alice", "INBOX", k_simple);
  client c(server);
  login(c);
  run(c, R"(
    C: a1 EXAMINE INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS ()] Flags permitted
    S: * 1 EXISTS
    S: * 0 RECENT
    S: * OK [UNSEEN 1] First unseen
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 2] Predicted next UID
    S: a1 OK [READ-ONLY] EXAMINE completed
    C: a2 FETCH 1 RFC822.TEXT
    S: * 1 FETCH (RFC822.TEXT {13}
    S: Hello world
    S: )
    S: a2 OK FETCH completed
  )");
  CHECK(server.store->get_message(server.mailbox("alice", "INBOX").id, 1)->flags == 0);
}

TEST_CASE("sections of nested parts use the stored part tree", "[imap][session][fetch]") {
  test_server server;
  server.deliver("alice", "INBOX", k_multipart);
  client c(server);
  login(c);
  select_inbox(c, "1");
  run(c, R"(
    C: a1 FETCH 1 BODY.PEEK[1]
    S: * 1 FETCH (BODY[1] {9}
    S: Part one.)
    S: a1 OK FETCH completed
    C: a2 FETCH 1 BODY.PEEK[1.MIME]
    S: * 1 FETCH (BODY[1.MIME] {28}
    S: Content-Type: text/plain
    S:
    S: )
    S: a2 OK FETCH completed
    C: a3 FETCH 1 BODY.PEEK[2.HEADER]
    S: * 1 FETCH (BODY[2.HEADER] {18}
    S: Subject: inner
    S:
    S: )
    S: a3 OK FETCH completed
    C: a4 FETCH 1 BODY.PEEK[2.TEXT]
    S: * 1 FETCH (BODY[2.TEXT] {11}
    S: Inner body.)
    S: a4 OK FETCH completed
    C: a5 FETCH 1 BODY.PEEK[2.1]
    S: * 1 FETCH (BODY[2.1] {11}
    S: Inner body.)
    S: a5 OK FETCH completed
    C: a6 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT from)]
    S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {51}
    S: From: Alice <alice@example.com>
    S: Subject: Hello
    S:
    S: )
    S: a6 OK FETCH completed
    C: a7 FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Content-Type From)]
    S: * 1 FETCH (BODY[HEADER.FIELDS.NOT (CONTENT-TYPE FROM)] {18}
    S: Subject: Hello
    S:
    S: )
    S: a7 OK FETCH completed
    C: a8 FETCH 1 BODY.PEEK[9]
    S: * 1 FETCH (BODY[9] {0}
    S: )
    S: a8 OK FETCH completed
  )");
}

TEST_CASE("a per-recipient prefix shifts every section", "[imap][session][fetch]") {
  test_server server;
  storage::append_request request;
  const std::string body = "Subject: hi\r\n\r\nHello world\r\n";
  request.message = body;
  storage::append_target target;
  target.mailbox = server.mailbox("alice", "INBOX").id;
  target.prefix = "Delivered-To: alice\r\n";
  request.targets.push_back(target);
  REQUIRE(server.store->append(request).ok());
  client c(server);
  login(c);
  select_inbox(c, "1");
  run(c, R"(
    C: a1 FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT])
    S: * 1 FETCH (RFC822.SIZE 49 BODY[HEADER] {36}
    S: Delivered-To: alice
    S: Subject: hi
    S:
    S:  BODY[TEXT] {13}
    S: Hello world
    S: )
    S: a1 OK FETCH completed
  )");
}

TEST_CASE("a big FETCH answers in chunks, and pipelined commands wait for its end",
          "[imap][session][fetch]") {
  test_server server;
  client c(server);
  std::string body;
  for (int i = 0; i < 1000; ++i) body += std::string(99, 'a' + i % 26) + "\n";  // 100 KB
  for (int i = 0; i < 20; ++i) {
    server.deliver("alice", "INBOX", "Subject: m" + std::to_string(i) + "\n\n" + body);
  }
  run(c, "C: l1 LOGIN alice secret\nS: l1 OK [CAPABILITY {*}] Logged in\n");
  select_inbox(c, "20");
  const std::string out = c.send("f1 FETCH 1:* BODY.PEEK[]\r\nn1 NOOP\r\n");
  // 2 MB of replies in chunks of about 256 KiB, each a separate call.
  CHECK(c.more_calls() >= 6);
  std::size_t at = 0;
  for (int seq = 1; seq <= 20; ++seq) {
    const std::string head = "* " + std::to_string(seq) + " FETCH (BODY[] {";
    const std::size_t found = out.find(head, at);
    REQUIRE(found != std::string::npos);
    at = found + head.size();
  }
  const std::size_t done = out.find("f1 OK FETCH completed\r\n", at);
  REQUIRE(done != std::string::npos);
  CHECK(out.substr(done) == "f1 OK FETCH completed\r\nn1 OK NOOP completed\r\n");
}

TEST_CASE("FETCH BODY[] sets \\Seen on the messages it reads in one store write",
          "[imap][session][fetch]") {
  test_server server;
  packmail::protocols::testing::fault_store counted(*server.store);
  server.config.store = &counted;
  server.deliver("alice", "INBOX", k_simple);
  server.deliver("alice", "INBOX", k_simple, storage::flag_seen);
  server.deliver("alice", "INBOX", k_simple);
  client c(server);
  login(c);
  select_inbox(c, "3");
  const storage::modseq_t before = server.mailbox("alice", "INBOX").highest_modseq;
  counted.reset_counts();
  // Message 2 was seen already: no FLAGS for it, as before.
  run(c, R"(
    C: a1 FETCH 1:3 BODY[]
    S: * 1 FETCH (BODY[] {28}
    S: Subject: hi
    S:
    S: Hello world
    S:  FLAGS (\Seen))
    S: * 2 FETCH (BODY[] {28}
    S: Subject: hi
    S:
    S: Hello world
    S: )
    S: * 3 FETCH (BODY[] {28}
    S: Subject: hi
    S:
    S: Hello world
    S:  FLAGS (\Seen))
    S: a1 OK FETCH completed
    C: a2 FETCH 1:3 FLAGS
    S: * 1 FETCH (FLAGS (\Seen))
    S: * 2 FETCH (FLAGS (\Seen))
    S: * 3 FETCH (FLAGS (\Seen))
    S: a2 OK FETCH completed
  )");
  CHECK(counted.store_flags_calls == 1);
  CHECK(server.mailbox("alice", "INBOX").highest_modseq == before + 1);
}

TEST_CASE("a partial FETCH reads only the bytes it sends", "[imap][session][fetch]") {
  test_server server;
  packmail::protocols::testing::fault_store counted(*server.store);
  server.config.store = &counted;
  server.deliver("alice", "INBOX", k_multipart);
  client c(server);
  login(c);
  select_inbox(c, "1");
  counted.reset_counts();
  run(c, R"(
    C: a1 FETCH 1 BODY.PEEK[]<6.5>
    S: * 1 FETCH (BODY[]<6> {5}
    S: Alice)
    S: a1 OK FETCH completed
    C: a2 FETCH 1 BODY.PEEK[TEXT]<0.4>
    S: * 1 FETCH (BODY[TEXT]<0> {4}
    S: --b1)
    S: a2 OK FETCH completed
    C: a3 FETCH 1 BODY.PEEK[2.1]<6.20>
    S: * 1 FETCH (BODY[2.1]<6> {5}
    S: body.)
    S: a3 OK FETCH completed
    C: a4 FETCH 1 BODY.PEEK[2.1]<11.3>
    S: * 1 FETCH (BODY[2.1]<11> {0}
    S: )
    S: a4 OK FETCH completed
    C: a5 FETCH 1 BODY.PEEK[1.MIME]<0.12>
    S: * 1 FETCH (BODY[1.MIME]<0> {12}
    S: Content-Type)
    S: a5 OK FETCH completed
    C: a6 FETCH 1 BODY.PEEK[2.HEADER]<9.100>
    S: * 1 FETCH (BODY[2.HEADER]<9> {9}
    S: inner
    S:
    S: )
    S: a6 OK FETCH completed
    C: a7 FETCH 1 BODY.PEEK[2.TEXT]<500.1>
    S: * 1 FETCH (BODY[2.TEXT]<500> {0}
    S: )
    S: a7 OK FETCH completed
  )");
  // <offset.length> is clamped before the read; past the end nothing is read.
  CHECK(counted.read_lengths == std::vector<std::uint64_t>{5, 4, 5, 12, 9});
  counted.reset_counts();
  // HEADER.FIELDS is built from the whole header, then cut.
  run(c, R"(
    C: a8 FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]<9.100>
    S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<9> {9}
    S: Hello
    S:
    S: )
    S: a8 OK FETCH completed
  )");
  REQUIRE(counted.read_lengths.size() == 1);
  CHECK(counted.read_lengths[0] > 9);
}
