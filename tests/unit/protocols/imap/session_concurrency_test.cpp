// Two sessions on one mailbox: EXISTS, EXPUNGE and FETCH announcements, and
// RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH.
#include "../fault_store.h"
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

namespace {

void select_inbox(client& c, std::string_view exists) {
  run(c, R"(
    C: s1 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * )" + std::string(exists) +
             R"( EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT {*}] Predicted next UID
    S: s1 OK [READ-WRITE] SELECT completed
  )");
}

struct two_sessions {
  test_server server;
  // Both sessions' store calls, counted: in the configuration before the
  // clients copy it.
  packmail::protocols::testing::fault_store counted{*server.store};
  bool counting = (server.config.store = &counted, true);
  client a{server};
  client b{server};
  two_sessions() {
    for (int i = 0; i < 3; ++i)
      server.deliver("alice", "INBOX", "Subject: m\n\nx\n", storage::flag_seen);
    login(a);
    login(b);
    select_inbox(a, "3");
    select_inbox(b, "3");
  }
};

}  // namespace

TEST_CASE("another session's append is announced with EXISTS and wakes the session",
          "[imap][session][concurrency]") {
  two_sessions s;
  const int before = s.a.wakes();
  run(s.b, R"(
    C: b1 APPEND INBOX {3+}
    C: abc
    S: * 4 EXISTS
    S: * 1 RECENT
    S: b1 OK [APPENDUID {*} 4] APPEND completed
  )");
  CHECK(s.a.wakes() > before);
  run(s.a, R"(
    C: a1 NOOP
    S: * 4 EXISTS
    S: * 0 RECENT
    S: a1 OK NOOP completed
    C: a2 NOOP
    S: a2 OK NOOP completed
  )");
}

TEST_CASE("another session's flag change is announced as FETCH FLAGS",
          "[imap][session][concurrency]") {
  two_sessions s;
  run(s.b, R"(
    C: b1 STORE 2 +FLAGS.SILENT (\Flagged)
    S: b1 OK STORE completed
  )");
  run(s.a, R"(
    C: a1 NOOP
    S: * 2 FETCH (FLAGS (\Flagged \Seen))
    S: a1 OK NOOP completed
  )");
}

TEST_CASE("a session's own flag changes are not read back by its next sync",
          "[imap][session][concurrency]") {
  two_sessions s;
  s.server.deliver("alice", "INBOX", "Subject: unseen\n\nx\n");
  run(s.a, "C: a1 NOOP\nS: * 4 EXISTS\nS: * 1 RECENT\nS: a1 OK NOOP completed\n");
  // The sync that ends each command finds the changes in the journal, and
  // knows them from the STORE's and the FETCH's results.
  s.counted.reset_counts();
  run(s.a, "C: a2 STORE 1:3 +FLAGS.SILENT (\\Flagged)\nS: a2 OK STORE completed\n");
  CHECK(s.counted.get_message_calls == 0);
  s.counted.reset_counts();
  run(s.a, R"(
    C: a3 FETCH 4 BODY[TEXT]
    S: * 4 FETCH (BODY[TEXT] {3}
    S: x
    S:  FLAGS (\Seen \Recent))
    S: a3 OK FETCH completed
  )");
  CHECK(s.counted.get_message_calls == 1);  // the FETCH's own
  s.counted.reset_counts();
  run(s.a, "C: a4 NOOP\nS: a4 OK NOOP completed\n");
  CHECK(s.counted.get_message_calls == 0);
  // Another session's change on top of one's own is still announced. B hears
  // of A's changes to 2 and 3; 1 it changes itself, on top of A's.
  run(s.b, R"(
    C: b1 STORE 1 +FLAGS.SILENT (\Answered)
    S: * 2 FETCH (FLAGS (\Flagged \Seen))
    S: * 3 FETCH (FLAGS (\Flagged \Seen))
    S: * 4 EXISTS
    S: * 0 RECENT
    S: b1 OK STORE completed
  )");
  s.counted.reset_counts();
  run(s.a, R"(
    C: a5 NOOP
    S: * 1 FETCH (FLAGS (\Answered \Flagged \Seen))
    S: a5 OK NOOP completed
  )");
  CHECK(s.counted.get_message_calls == 1);
}

TEST_CASE("EXPUNGEs held back are announced together with shifting numbers",
          "[imap][session][concurrency]") {
  two_sessions s;
  run(s.b, R"(
    C: b1 STORE 1,3 +FLAGS.SILENT (\Deleted)
    S: b1 OK STORE completed
    C: b2 EXPUNGE
    S: * 1 EXPUNGE
    S: * 2 EXPUNGE
    S: b2 OK EXPUNGE completed
  )");
  run(s.a, R"(
    C: a1 FETCH 2 UID
    S: * 2 FETCH (UID 2)
    S: a1 OK FETCH completed
    C: a2 NOOP
    S: * 1 EXPUNGE
    S: * 2 EXPUNGE
    S: a2 OK NOOP completed
    C: a3 FETCH 1:* UID
    S: * 1 FETCH (UID 2)
    S: a3 OK FETCH completed
  )");
}

TEST_CASE("no EXPUNGE during FETCH, STORE or SEARCH by sequence number",
          "[imap][session][concurrency]") {
  two_sessions s;
  run(s.b, R"(
    C: b1 STORE 2 +FLAGS.SILENT (\Deleted)
    S: b1 OK STORE completed
    C: b2 EXPUNGE
    S: * 2 EXPUNGE
    S: b2 OK EXPUNGE completed
  )");
  // Message 2 keeps its sequence number in A's view until a command that
  // allows EXPUNGE.
  run(s.a, R"(
    C: a1 FETCH 1:3 UID
    S: * 1 FETCH (UID 1)
    S: * 3 FETCH (UID 3)
    S: a1 NO [EXPUNGEISSUED] Some of the requested messages no longer exist
    C: a2 SEARCH ALL
    S: * SEARCH 1 3
    S: a2 OK SEARCH completed
    C: a3 STORE 3 +FLAGS (\Answered)
    S: * 3 FETCH (FLAGS (\Answered \Seen))
    S: a3 OK STORE completed
    C: a4 NOOP
    S: * 2 EXPUNGE
    S: a4 OK NOOP completed
    C: a5 FETCH 1:* UID
    S: * 1 FETCH (UID 1)
    S: * 2 FETCH (UID 3)
    S: a5 OK FETCH completed
  )");
}

TEST_CASE("UID FETCH may announce EXPUNGE", "[imap][session][concurrency]") {
  two_sessions s;
  run(s.b, R"(
    C: b1 STORE 1 +FLAGS.SILENT (\Deleted)
    S: b1 OK STORE completed
    C: b2 EXPUNGE
    S: * 1 EXPUNGE
    S: b2 OK EXPUNGE completed
  )");
  run(s.a, R"(
    C: a1 UID FETCH 3 UID
    S: * 3 FETCH (UID 3)
    S: * 1 EXPUNGE
    S: a1 OK UID FETCH completed
  )");
}

TEST_CASE("IDLE pushes news on wake and ends with DONE", "[imap][session][concurrency]") {
  two_sessions s;
  run(s.a, R"(
    C: a1 IDLE
    S: + idling
  )");
  const int before = s.a.wakes();
  s.server.deliver("alice", "INBOX", "Subject: new\n\nx\n");
  CHECK(s.a.wakes() > before);
  // A was told first: the new message is recent there (RFC 3501 2.3.2).
  CHECK(s.a.session().on_wake().bytes == "* 4 EXISTS\r\n* 1 RECENT\r\n");
  run(s.b, R"(
    C: b1 STORE 1 +FLAGS.SILENT (\Deleted)
    S: * 4 EXISTS
    S: * 0 RECENT
    S: b1 OK STORE completed
    C: b2 EXPUNGE
    S: * 1 EXPUNGE
    S: b2 OK EXPUNGE completed
  )");
  CHECK(s.a.session().on_wake().bytes == "* 1 EXPUNGE\r\n");
  run(s.a, R"(
    C: DONE
    S: a1 OK IDLE terminated
    C: a2 IDLE
    S: + idling
    C: NOTDONE
    S: a2 BAD {*}
  )");
}

TEST_CASE("a wake outside IDLE sends nothing until the next command",
          "[imap][session][concurrency]") {
  two_sessions s;
  s.server.deliver("alice", "INBOX", "Subject: new\n\nx\n");
  CHECK(s.a.session().on_wake().bytes.empty());
  run(s.a, "C: a1 CHECK\nS: * 4 EXISTS\nS: * 1 RECENT\nS: a1 OK CHECK completed\n");
}

TEST_CASE("another session deleting the selected mailbox ends the session",
          "[imap][session][concurrency]") {
  test_server server;
  client a(server), b(server);
  login(a);
  login(b);
  run(a, R"(
    C: a1 CREATE tmp
    S: a1 OK CREATE completed
    C: a2 SELECT tmp
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 0 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 1] Predicted next UID
    S: a2 OK [READ-WRITE] SELECT completed
  )");
  run(b, "C: b1 DELETE tmp\nS: b1 OK DELETE completed\n");
  run(a, R"(
    C: a3 NOOP
    S: * BYE Selected mailbox was deleted
    S: a3 OK NOOP completed
  )");
  CHECK(a.closed());
}

TEST_CASE("\\Recent goes to the one session told first about a message",
          "[imap][session][concurrency][recent]") {
  two_sessions s;  // both selected INBOX (3 old messages, none recent)
  s.server.deliver("alice", "INBOX", "Subject: new one\n\nx\n");
  s.server.deliver("alice", "INBOX", "Subject: new two\n\nx\n");
  run(s.a, R"(
    C: a1 NOOP
    S: * 5 EXISTS
    S: * 2 RECENT
    S: a1 OK NOOP completed
    C: a2 FETCH 3:5 FLAGS
    S: * 3 FETCH (FLAGS (\Seen))
    S: * 4 FETCH (FLAGS (\Recent))
    S: * 5 FETCH (FLAGS (\Recent))
    S: a2 OK FETCH completed
    C: a3 STORE 4 +FLAGS (\Seen)
    S: * 4 FETCH (FLAGS (\Seen \Recent))
    S: a3 OK STORE completed
    C: a4 SEARCH RECENT
    S: * SEARCH 4 5
    S: a4 OK SEARCH completed
    C: a5 SEARCH NEW
    S: * SEARCH 5
    S: a5 OK SEARCH completed
    C: a6 SEARCH OLD
    S: * SEARCH 1 2 3
    S: a6 OK SEARCH completed
  )");
  // B learns of them second: not recent there.
  run(s.b, R"(
    C: b1 NOOP
    S: * 5 EXISTS
    S: * 0 RECENT
    S: b1 OK NOOP completed
    C: b2 SEARCH RECENT
    S: * SEARCH
    S: b2 OK SEARCH completed
  )");
  // A new message nobody has claimed: STATUS and EXAMINE see it as recent
  // without claiming it; the next SELECT claims it.
  s.server.deliver("alice", "INBOX", "Subject: new three\n\nx\n");
  client c(s.server);
  run(c, R"(
    C: c1 LOGIN alice secret
    S: c1 OK [CAPABILITY {*}] Logged in
    C: c2 STATUS INBOX (RECENT MESSAGES)
    S: * STATUS "INBOX" (RECENT 1 MESSAGES 6)
    S: c2 OK STATUS completed
    C: c3 EXAMINE INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS ()] Flags permitted
    S: * 6 EXISTS
    S: * 1 RECENT
    S: * OK [UNSEEN 5] First unseen
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 7] Predicted next UID
    S: c3 OK [READ-ONLY] EXAMINE completed
    C: c4 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 6 EXISTS
    S: * 1 RECENT
    S: * OK [UNSEEN 5] First unseen
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 7] Predicted next UID
    S: c4 OK [READ-WRITE] SELECT completed
    C: c5 STATUS INBOX (RECENT)
    S: * STATUS "INBOX" (RECENT 0)
    S: c5 OK STATUS completed
  )");
  run(s.a, R"(
    C: a7 NOOP
    S: * 6 EXISTS
    S: * 2 RECENT
    S: a7 OK NOOP completed
  )");
}
