// SEARCH / UID SEARCH over flags, sizes, dates, headers and decoded text.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

namespace {

void select_fixture(test_server& server, client& c) {
  // 2003-07-01, 2010-01-15, 2020-06-30 (UTC internal dates).
  server.deliver("alice", "INBOX",
                 "From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: Lunch plans\n"
                 "Date: Tue, 1 Jul 2003 10:52:37 +0200\n\nShall we meet at noon?\n",
                 storage::flag_seen, 1057049557);
  server.deliver("alice", "INBOX",
                 "From: Carol <carol@example.org>\nTo: alice@example.com\nCc: dave@example.net\n"
                 "Subject: Report\nDate: 15 Jan 2010 09:00:00 +0000\nX-Priority: 1\n\n"
                 "The quarterly REPORT is attached.\n",
                 storage::flag_flagged, 1263546000);
  server.deliver("alice", "INBOX",
                 "From: bob@example.com\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n\nHallo\n",
                 storage::flag_deleted, 1593475200);
  login(c);
  run(c, R"(
    C: s1 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 3 EXISTS
    S: * 0 RECENT
    S: * OK [UNSEEN 2] First unseen
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 4] Predicted next UID
    S: s1 OK [READ-WRITE] SELECT completed
  )");
}

}  // namespace

TEST_CASE("SEARCH by flags, sets and sizes", "[imap][session][search]") {
  test_server server;
  client c(server);
  select_fixture(server, c);
  run(c, R"(
    C: a1 SEARCH ALL
    S: * SEARCH 1 2 3
    S: a1 OK SEARCH completed
    C: a2 SEARCH SEEN
    S: * SEARCH 1
    S: a2 OK SEARCH completed
    C: a3 SEARCH UNSEEN UNDELETED
    S: * SEARCH 2
    S: a3 OK SEARCH completed
    C: a4 SEARCH OR FLAGGED DELETED
    S: * SEARCH 2 3
    S: a4 OK SEARCH completed
    C: a5 SEARCH NOT 2:3
    S: * SEARCH 1
    S: a5 OK SEARCH completed
    C: a6 UID SEARCH UID 2:*
    S: * SEARCH 2 3
    S: a6 OK UID SEARCH completed
    C: a7 SEARCH LARGER 100 SMALLER 160
    S: * SEARCH 1
    S: a7 OK SEARCH completed
    C: a8 SEARCH NEW
    S: * SEARCH
    S: a8 OK SEARCH completed
    C: a9 SEARCH (OLD ANSWERED)
    S: * SEARCH
    S: a9 OK SEARCH completed
  )");
}

TEST_CASE("SEARCH by headers and text, case-insensitively", "[imap][session][search]") {
  test_server server;
  client c(server);
  select_fixture(server, c);
  run(c, R"(
    C: a1 SEARCH FROM ALICE
    S: * SEARCH 1
    S: a1 OK SEARCH completed
    C: a2 SEARCH TO alice@example.com
    S: * SEARCH 2
    S: a2 OK SEARCH completed
    C: a3 SEARCH CC dave
    S: * SEARCH 2
    S: a3 OK SEARCH completed
    C: a4 SEARCH SUBJECT lunch
    S: * SEARCH 1
    S: a4 OK SEARCH completed
    C: a5 SEARCH HEADER X-Priority ""
    S: * SEARCH 2
    S: a5 OK SEARCH completed
    C: a6 SEARCH BODY "quarterly report"
    S: * SEARCH 2
    S: a6 OK SEARCH completed
    C: a7 SEARCH TEXT noon
    S: * SEARCH 1
    S: a7 OK SEARCH completed
    C: a8 SEARCH TEXT bob
    S: * SEARCH 1 3
    S: a8 OK SEARCH completed
    C: a9 SEARCH CHARSET UTF-8 SUBJECT {7+}
    C: grüße
    S: * SEARCH 3
    S: a9 OK SEARCH completed
    C: b1 SEARCH BCC anyone
    S: * SEARCH
    S: b1 OK SEARCH completed
    C: b2 SEARCH CHARSET KOI8-R ALL
    S: b2 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset
  )");
}

TEST_CASE("SEARCH by internal and sent dates", "[imap][session][search]") {
  test_server server;
  client c(server);
  select_fixture(server, c);
  run(c, R"(
    C: a1 SEARCH BEFORE 1-Jan-2010
    S: * SEARCH 1
    S: a1 OK SEARCH completed
    C: a2 SEARCH ON 15-Jan-2010
    S: * SEARCH 2
    S: a2 OK SEARCH completed
    C: a3 SEARCH SINCE 15-Jan-2010
    S: * SEARCH 2 3
    S: a3 OK SEARCH completed
    C: a4 SEARCH SENTON 1-Jul-2003
    S: * SEARCH 1
    S: a4 OK SEARCH completed
    C: a5 SEARCH SENTBEFORE 1-Jan-2011
    S: * SEARCH 1 2
    S: a5 OK SEARCH completed
    C: a6 SEARCH SENTSINCE 1-Jan-2020
    S: * SEARCH 3
    S: a6 OK SEARCH completed
    C: a7 SEARCH BEFORE notadate
    S: a7 BAD {*}
  )");
}

TEST_CASE("\"$\" is refused: SEARCHRES is not offered", "[imap][session][search]") {
  test_server server;
  client c(server);
  select_fixture(server, c);
  run(c, R"(
    C: a1 FETCH $ FLAGS
    S: a1 BAD $ needs SEARCHRES, which is not offered
    C: a2 UID FETCH 1,$ FLAGS
    S: a2 BAD $ needs SEARCHRES, which is not offered
    C: a3 STORE $ +FLAGS (\Answered)
    S: a3 BAD $ needs SEARCHRES, which is not offered
    C: a4 COPY $ Trash
    S: a4 BAD $ needs SEARCHRES, which is not offered
    C: a5 UID EXPUNGE $
    S: a5 BAD $ needs SEARCHRES, which is not offered
    C: a6 SEARCH UID $
    S: a6 BAD $ needs SEARCHRES, which is not offered
    C: a7 SEARCH OR SEEN NOT $
    S: a7 BAD $ needs SEARCHRES, which is not offered
    C: a8 SEARCH ALL
    S: * SEARCH 1 2 3
    S: a8 OK SEARCH completed
  )");
}
