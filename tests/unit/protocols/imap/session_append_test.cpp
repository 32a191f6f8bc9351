// APPEND with synchronizing and non-synchronizing literals, APPENDUID, flags
// and dates, and TRYCREATE.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

TEST_CASE("APPEND with a synchronizing literal gets + Ready and APPENDUID",
          "[imap][session][append]") {
  test_server server;
  const auto info = server.mailbox("alice", "Drafts");
  client c(server);
  login(c);
  run(c, R"(
    C: a1 APPEND Drafts (\Draft \Seen) " 7-Feb-1994 21:52:25 -0800" {14}
    S: + Ready
    C: Subject: x
    C:
    C:
    S: a1 OK [APPENDUID )" +
             std::to_string(info.uidvalidity) + R"( 1] APPEND completed
    C: a2 APPEND Drafts {3+}
    C: abc
    S: a2 OK [APPENDUID {*} 2] APPEND completed
  )");
  auto m = server.store->get_message(info.id, 1);
  REQUIRE(m.ok());
  CHECK(m->flags == (storage::flag_draft | storage::flag_seen));
  CHECK(m->internal_date == 760686745);
  CHECK(m->tz_offset == -480);
  CHECK(server.store->read_message(info.id, 1).value() == "Subject: x\r\n\r\n");
}

TEST_CASE("APPEND to a missing mailbox answers TRYCREATE", "[imap][session][append]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 APPEND nowhere {3+}
    C: abc
    S: a1 NO [TRYCREATE] No such mailbox
    C: a2 APPEND INBOX (\Bogus) {3+}
    C: abc
    S: a2 BAD Unknown system flag \Bogus
    C: a3 APPEND INBOX
    S: a3 BAD {*}
  )");
}

TEST_CASE("a synchronizing literal is refused before login", "[imap][session][append]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 APPEND INBOX {3}
    S: a1 BAD Log in first
    C: a2 NOOP
    S: a2 OK NOOP completed
  )");
}

TEST_CASE("APPEND to the selected mailbox announces EXISTS", "[imap][session][append]") {
  test_server server;
  client c(server);
  login(c);
  run(c, R"(
    C: a1 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 0 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 1] Predicted next UID
    S: a1 OK [READ-WRITE] SELECT completed
    C: a2 APPEND INBOX {3+}
    C: abc
    S: * 1 EXISTS
    S: * 1 RECENT
    S: a2 OK [APPENDUID {*} 1] APPEND completed
  )");
}
