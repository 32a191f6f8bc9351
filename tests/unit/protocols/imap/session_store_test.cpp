// STORE / UID STORE, EXPUNGE / UID EXPUNGE, CLOSE and UNSELECT.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

TEST_CASE("STORE +FLAGS, -FLAGS, FLAGS and .SILENT", "[imap][session][store]") {
  test_server server;
  client c(server);
  select_three(server, c);
  run(c, R"(
    C: a1 STORE 1:2 +FLAGS (\Flagged $Important)
    S: * 1 FETCH (FLAGS (\Flagged \Seen $Important))
    S: * 2 FETCH (FLAGS (\Flagged \Seen $Important))
    S: a1 OK STORE completed
    C: a2 STORE 2 -FLAGS.SILENT (\Seen)
    S: a2 OK STORE completed
    C: a3 FETCH 2 FLAGS
    S: * 2 FETCH (FLAGS (\Flagged $Important))
    S: a3 OK FETCH completed
    C: a4 UID STORE 3 FLAGS (\Draft)
    S: * 3 FETCH (UID 3 FLAGS (\Draft))
    S: a4 OK UID STORE completed
    C: a5 STORE 1 +FLAGS (\Recent)
    S: a5 BAD Cannot store \Recent
    C: a6 STORE 4 +FLAGS (\Seen)
    S: a6 BAD Invalid message sequence number
    C: a7 STORE 1 FROB (\Seen)
    S: a7 BAD {*}
  )");
}

TEST_CASE("EXPUNGE removes \\Deleted messages with shifting sequence numbers",
          "[imap][session][store]") {
  test_server server;
  client c(server);
  select_three(server, c);
  run(c, R"(
    C: a1 STORE 1:2 +FLAGS.SILENT (\Deleted)
    S: a1 OK STORE completed
    C: a2 EXPUNGE
    S: * 1 EXPUNGE
    S: * 1 EXPUNGE
    S: a2 OK EXPUNGE completed
    C: a3 UID FETCH 1:* UID
    S: * 1 FETCH (UID 3)
    S: a3 OK UID FETCH completed
  )");
}

TEST_CASE("UID EXPUNGE removes only the named \\Deleted messages", "[imap][session][store]") {
  test_server server;
  client c(server);
  select_three(server, c);
  run(c, R"(
    C: a1 STORE 1:3 +FLAGS.SILENT (\Deleted)
    S: a1 OK STORE completed
    C: a2 UID EXPUNGE 2:3
    S: * 2 EXPUNGE
    S: * 2 EXPUNGE
    S: a2 OK EXPUNGE completed
    C: a3 FETCH 1:* UID
    S: * 1 FETCH (UID 1)
    S: a3 OK FETCH completed
    C: a4 UID EXPUNGE 1
    S: * 1 EXPUNGE
    S: a4 OK EXPUNGE completed
    C: a5 UID EXPUNGE
    S: a5 BAD UID EXPUNGE needs a UID set
  )");
}

TEST_CASE("CLOSE expunges silently, UNSELECT does not", "[imap][session][store]") {
  test_server server;
  client c(server);
  select_three(server, c);
  run(c, R"(
    C: a1 STORE 1 +FLAGS.SILENT (\Deleted)
    S: a1 OK STORE completed
    C: a2 UNSELECT
    S: a2 OK UNSELECT completed
    C: a3 STATUS INBOX (MESSAGES)
    S: * STATUS "INBOX" (MESSAGES 3)
    S: a3 OK STATUS completed
    C: a4 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 3 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 4] Predicted next UID
    S: a4 OK [READ-WRITE] SELECT completed
    C: a5 CLOSE
    S: a5 OK CLOSE completed
    C: a6 STATUS INBOX (MESSAGES)
    S: * STATUS "INBOX" (MESSAGES 2)
    S: a6 OK STATUS completed
  )");
}

TEST_CASE("a read-only mailbox refuses STORE and EXPUNGE", "[imap][session][store]") {
  test_server server;
  server.deliver("alice", "INBOX", "Subject: m\n\nx\n", storage::flag_seen);
  client c(server);
  login(c);
  run(c, R"(
    C: a1 EXAMINE INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS ()] Flags permitted
    S: * 1 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 2] Predicted next UID
    S: a1 OK [READ-ONLY] EXAMINE completed
    C: a2 STORE 1 +FLAGS (\Deleted)
    S: a2 NO [READ-ONLY] Mailbox is read-only
    C: a3 EXPUNGE
    S: a3 NO [READ-ONLY] Mailbox is read-only
  )");
}
