// Bad input answers BAD (or BYE when the parser gives up), never a crash.
#include <random>

#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace storage = packmail::storage;

TEST_CASE("malformed commands answer BAD", "[imap][session][bad]") {
  test_server server;
  server.deliver("alice", "INBOX", "Subject: m\n\nx\n");
  client c(server);
  run(c, R"(
    C:
    S: * BAD {*}
    C: a1
    S: {*}BAD{*}
    C: a2 LOGIN onlyuser
    S: a2 BAD LOGIN needs a user name and a password
    C: a3 LOGIN (a) (b)
    S: a3 BAD Invalid LOGIN arguments
    C: a4 AUTHENTICATE
    S: a4 BAD AUTHENTICATE needs a mechanism
    C: a5 CAPABILITY now
    S: a5 BAD CAPABILITY takes no arguments
    C: a6 LOGIN alice secret
    S: a6 OK [CAPABILITY {*}] Logged in
    C: a7 SELECT
    S: a7 BAD Expected one mailbox name
    C: a8 LIST ""
    S: a8 BAD LIST needs a reference and a mailbox pattern
    C: a9 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 1 EXISTS
    S: * 0 RECENT
    S: * OK [UNSEEN 1] First unseen
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 2] Predicted next UID
    S: a9 OK [READ-WRITE] SELECT completed
    C: b1 FETCH
    S: b1 BAD {*}
    C: b2 FETCH 0 FLAGS
    S: b2 BAD {*}
    C: b3 FETCH 1 (FLAGS
    S: b3 BAD {*}
    C: b4 SEARCH FROM
    S: b4 BAD {*}
    C: b5 COPY 1
    S: b5 BAD Expected a message set and a mailbox name
    C: b6 UID FROB 1
    S: b6 BAD {*}
    C: b7 UID NOOP
    S: b7 BAD {*}
    C: b8 EXPUNGE now
    S: b8 BAD EXPUNGE takes no arguments
    C: b9 FETCH 1 BINARY[1]
    S: b9 BAD BINARY and MODSEQ are not supported
    C: c1 NOOP
    S: c1 OK NOOP completed
  )");
}

TEST_CASE("random bytes never crash the session", "[imap][session][bad]") {
  test_server server;
  server.deliver("alice", "INBOX", "Subject: m\n\nx\n");
  // Vary with --rng-seed.
  std::mt19937 random(Catch::rngSeed());
  const std::vector<std::string> words = {"a1 ",      "UID ",      "FETCH ",
                                          "STORE ",   "SEARCH ",   "SELECT ",
                                          "INBOX ",   "1:* ",      "* ",
                                          "(",        ")",         "BODY[",
                                          "]",        "<0.5>",     "{3}\r\n",
                                          "{2+}\r\n", "\"",        "\\Seen ",
                                          "\r\n",     "+FLAGS ",   "LIST ",
                                          "\"\" ",    "% ",        "COPY ",
                                          "MOVE ",    "EXPUNGE",   "IDLE\r\n",
                                          "DONE\r\n", "APPEND ",   "\x01",
                                          "\xff",     "NOOP\r\n",  "AUTHENTICATE PLAIN\r\n",
                                          "=\r\n",    "CLOSE\r\n", "UNSELECT\r\n"};
  for (int round = 0; round < 300; ++round) {
    client c(server);
    login(c);
    c.send("s SELECT INBOX\r\n");
    std::string input;
    for (int i = 0; i < 40; ++i) input += words[random() % words.size()];
    c.send(input, round % 2 == 0);
    c.send("\r\nz NOOP\r\n");
  }
  SUCCEED("no crash");
}
