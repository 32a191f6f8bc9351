// SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB,
// STATUS.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

TEST_CASE("LIST shows the default tree with special-use and children attributes",
          "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 LIST "" *
    S: * LIST (\HasNoChildren \Archive) "/" "Archive"
    S: * LIST (\HasNoChildren \Drafts) "/" "Drafts"
    S: * LIST (\HasNoChildren) "/" "INBOX"
    S: * LIST (\HasNoChildren \Junk) "/" "Junk"
    S: * LIST (\HasNoChildren \Sent) "/" "Sent"
    S: * LIST (\HasNoChildren \Trash) "/" "Trash"
    S: a1 OK LIST completed
    C: a2 LIST "" ""
    S: * LIST (\Noselect) "/" ""
    S: a2 OK LIST completed
    C: a3 list "" inbox
    S: * LIST (\HasNoChildren) "/" "INBOX"
    S: a3 OK LIST completed
    C: a4 LIST "" nothing*
    S: a4 OK LIST completed
  )");
}

TEST_CASE("LIST wildcards: * crosses levels, % does not and shows parents",
          "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 CREATE work/2024/q1
    S: a1 OK CREATE completed
    C: a2 CREATE lone/a/b
    S: a2 OK CREATE completed
    C: a3 DELETE lone/a
    S: a3 OK DELETE completed
    C: a4 DELETE lone
    S: a4 OK DELETE completed
    C: a5 LIST "" work*
    S: * LIST (\HasChildren) "/" "work"
    S: * LIST (\HasChildren) "/" "work/2024"
    S: * LIST (\HasNoChildren) "/" "work/2024/q1"
    S: a5 OK LIST completed
    C: a6 LIST "" %
    S: * LIST (\HasNoChildren \Archive) "/" "Archive"
    S: * LIST (\HasNoChildren \Drafts) "/" "Drafts"
    S: * LIST (\HasNoChildren) "/" "INBOX"
    S: * LIST (\HasNoChildren \Junk) "/" "Junk"
    S: * LIST (\HasNoChildren \Sent) "/" "Sent"
    S: * LIST (\HasNoChildren \Trash) "/" "Trash"
    S: * LIST (\Noselect \HasChildren) "/" "lone"
    S: * LIST (\HasChildren) "/" "work"
    S: a6 OK LIST completed
    C: a7 LIST work/ %
    S: * LIST (\HasChildren) "/" "work/2024"
    S: a7 OK LIST completed
    C: a8 LIST "" lone/*
    S: * LIST (\HasNoChildren) "/" "lone/a/b"
    S: a8 OK LIST completed
    C: a9 LIST "" lone/%
    S: * LIST (\Noselect \HasChildren) "/" "lone/a"
    S: a9 OK LIST completed
  )");
}

TEST_CASE("mailbox names travel in modified UTF-7", "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 CREATE "Entw&APw-rfe"
    S: a1 OK CREATE completed
    C: a2 LIST "" Entw*
    S: * LIST (\HasNoChildren) "/" "Entw&APw-rfe"
    S: a2 OK LIST completed
    C: a3 CREATE "bad&name"
    S: a3 BAD Invalid mailbox name
    C: a4 STATUS {12}
    S: + Ready
    C: Entw&APw-rfe (MESSAGES)
    S: * STATUS "Entw&APw-rfe" (MESSAGES 0)
    S: a4 OK STATUS completed
    C: a5 LIST "Entw&APw-" rfe
    S: * LIST (\HasNoChildren) "/" "Entw&APw-rfe"
    S: a5 OK LIST completed
  )");
  CHECK(server.store->get_mailbox(server.user("alice"), "Entw\xc3\xbcrfe").ok());
}

TEST_CASE("CREATE, DELETE and RENAME map store errors to response codes",
          "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 CREATE projects/
    S: a1 OK CREATE completed
    C: a2 CREATE projects
    S: a2 NO [ALREADYEXISTS] Mailbox already exists
    C: a3 CREATE inbox
    S: a3 NO [ALREADYEXISTS] INBOX always exists
    C: a4 DELETE nothing
    S: a4 NO [NONEXISTENT] No such mailbox or message
    C: a5 DELETE INBOX
    S: a5 NO [CANNOT] INBOX cannot be deleted
    C: a6 CREATE projects/old
    S: a6 OK CREATE completed
    C: a7 RENAME projects archive2
    S: a7 OK RENAME completed
    C: a8 LIST "" archive2*
    S: * LIST (\HasChildren) "/" "archive2"
    S: * LIST (\HasNoChildren) "/" "archive2/old"
    S: a8 OK LIST completed
    C: a9 RENAME archive2 Sent
    S: a9 NO [ALREADYEXISTS] Mailbox already exists
    C: b1 RENAME nothing x
    S: b1 NO [NONEXISTENT] No such mailbox or message
    C: b2 CREATE "a//b"
    S: b2 NO [CANNOT] Invalid mailbox name
    C: b3 DELETE archive2/old
    S: b3 OK DELETE completed
    C: b4 CREATE
    S: b4 BAD Expected one mailbox name
  )");
}

TEST_CASE("RENAME INBOX moves its messages", "[imap][session][mailbox]") {
  test_server server;
  server.deliver("alice", "INBOX", "Subject: one\n\nbody\n");
  client c(server);
  login(c);
  run(c, R"(
    C: a1 RENAME INBOX old-inbox
    S: a1 OK RENAME completed
    C: a2 STATUS INBOX (MESSAGES)
    S: * STATUS "INBOX" (MESSAGES 0)
    S: a2 OK STATUS completed
    C: a3 STATUS old-inbox (MESSAGES)
    S: * STATUS "old-inbox" (MESSAGES 1)
    S: a3 OK STATUS completed
  )");
}

TEST_CASE("SUBSCRIBE, UNSUBSCRIBE and LSUB", "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 SUBSCRIBE INBOX
    S: a1 OK SUBSCRIBE completed
    C: a2 SUBSCRIBE lists/ietf
    S: a2 OK SUBSCRIBE completed
    C: a3 SUBSCRIBE Sent
    S: a3 OK SUBSCRIBE completed
    C: a4 LSUB "" *
    S: * LSUB () "/" "INBOX"
    S: * LSUB () "/" "Sent"
    S: * LSUB () "/" "lists/ietf"
    S: a4 OK LSUB completed
    C: a5 LSUB "" %
    S: * LSUB () "/" "INBOX"
    S: * LSUB () "/" "Sent"
    S: * LSUB (\Noselect) "/" "lists"
    S: a5 OK LSUB completed
    C: a6 UNSUBSCRIBE Sent
    S: a6 OK UNSUBSCRIBE completed
    C: a7 LSUB "" S*
    S: a7 OK LSUB completed
  )");
}

TEST_CASE("STATUS reports the requested items in order", "[imap][session][mailbox]") {
  test_server server;
  server.deliver("alice", "Sent", "Subject: a\n\nx\n", storage::flag_seen);
  server.deliver("alice", "Sent", "Subject: b\n\ny\n");
  const auto info = server.mailbox("alice", "Sent");
  client c(server);
  login(c);
  run(c, R"(
    C: a1 STATUS Sent (UIDNEXT MESSAGES UNSEEN RECENT UIDVALIDITY)
    S: * STATUS "Sent" (UIDNEXT 3 MESSAGES 2 UNSEEN 1 RECENT 0 UIDVALIDITY )" +
             std::to_string(info.uidvalidity) + R"()
    S: a1 OK STATUS completed
    C: a2 STATUS Sent (BOGUS)
    S: a2 BAD Unknown STATUS item
    C: a3 STATUS Nothing (MESSAGES)
    S: a3 NO [NONEXISTENT] No such mailbox or message
    C: a4 STATUS Sent MESSAGES
    S: a4 BAD STATUS needs a mailbox name and a list of items
  )");
}

TEST_CASE("SELECT sends every untagged response of RFC 3501 6.3.1", "[imap][session][mailbox]") {
  test_server server;
  server.deliver("alice", "INBOX", "Subject: a\n\nx\n", storage::flag_seen);
  server.deliver("alice", "INBOX", "Subject: b\n\ny\n");
  const auto info = server.mailbox("alice", "INBOX");
  const std::string validity = std::to_string(info.uidvalidity);
  client c(server);
  login(c);
  run(c, R"(
    C: a1 SELECT inbox
    S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
    S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
    S: * 2 EXISTS
    S: * 0 RECENT
    S: * OK [UNSEEN 2] First unseen
    S: * OK [UIDVALIDITY )" +
             validity + R"(] UIDs valid
    S: * OK [UIDNEXT 3] Predicted next UID
    S: a1 OK [READ-WRITE] SELECT completed
    C: a2 EXAMINE Drafts
    S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
    S: * OK [PERMANENTFLAGS ()] Flags permitted
    S: * 0 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 1] Predicted next UID
    S: a2 OK [READ-ONLY] EXAMINE completed
    C: a3 SELECT nothing
    S: a3 NO [NONEXISTENT] No such mailbox or message
    C: a4 CHECK
    S: a4 BAD No mailbox selected
  )");
}

TEST_CASE("DELETE of the selected mailbox leaves the selected state", "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
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
    C: a3 DELETE tmp
    S: a3 OK DELETE completed
    C: a4 NOOP
    S: a4 OK NOOP completed
    C: a5 CHECK
    S: a5 BAD No mailbox selected
  )");
}

TEST_CASE("NAMESPACE names one personal namespace", "[imap][session][mailbox]") {
  test_server server;
  client c(server);
  run(c, "C: a1 NAMESPACE\nS: a1 BAD Log in first\n");
  login(c);
  run(c, R"(
    C: a2 NAMESPACE
    S: * NAMESPACE (("" "/")) NIL NIL
    S: a2 OK NAMESPACE completed
  )");
}
