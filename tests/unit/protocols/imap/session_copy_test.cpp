// COPY / UID COPY with COPYUID, and MOVE / UID MOVE.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

TEST_CASE("COPY answers COPYUID and keeps the source", "[imap][session][copy]") {
  test_server server;
  client c(server);
  select_three(server, c);
  const auto archive = server.mailbox("alice", "Archive");
  run(c, R"(
    C: a1 COPY 1,3 Archive
    S: a1 OK [COPYUID )" +
             std::to_string(archive.uidvalidity) + R"( 1,3 1:2] COPY completed
    C: a2 UID COPY 2:* Archive
    S: a2 OK [COPYUID {*} 2:3 3:4] COPY completed
    C: a3 COPY 1 Nowhere
    S: a3 NO [TRYCREATE] No such mailbox
    C: a4 COPY 9 Archive
    S: a4 BAD Invalid message sequence number
    C: a5 UID COPY 9 Archive
    S: a5 OK COPY completed
  )");
  CHECK(server.mailbox("alice", "Archive").messages == 4);
  CHECK(server.mailbox("alice", "INBOX").messages == 3);
}

TEST_CASE("MOVE sends COPYUID untagged, then EXPUNGEs", "[imap][session][copy]") {
  test_server server;
  client c(server);
  select_three(server, c);
  run(c, R"(
    C: a1 MOVE 2:3 Trash
    S: * OK [COPYUID {*} 2:3 1:2] Moved
    S: * 2 EXPUNGE
    S: * 2 EXPUNGE
    S: a1 OK MOVE completed
    C: a2 UID MOVE 1 Junk
    S: * OK [COPYUID {*} 1 1] Moved
    S: * 1 EXPUNGE
    S: a2 OK MOVE completed
  )");
  CHECK(server.mailbox("alice", "INBOX").messages == 0);
  CHECK(server.mailbox("alice", "Trash").messages == 2);
}
