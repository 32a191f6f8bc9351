// DELE, RSET and QUIT (RFC 1939 5, 6): deletions happen at QUIT only, in the
// UPDATE state, as a store expunge that IMAP sessions see; every other end
// of the session deletes nothing.
#include "packmail/protocols/imap/session.h"
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
namespace storage = packmail::storage;
namespace imap = packmail::protocols::imap;
using uids = std::vector<storage::imap_uid>;

namespace {

void deliver_three(test_server& server) {
  for (int i = 0; i < 3; ++i) server.deliver("Subject: m\n\nbody\n");
}

}  // namespace

TEST_CASE("DELE marks; QUIT expunges the marked messages", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, R"(
    C: DELE 1
    S: +OK Message 1 deleted
    C: DELE 3
    S: +OK Message 3 deleted
    C: DELE 1
    S: -ERR Message 1 already deleted
    C: RETR 1
    S: -ERR Message 1 already deleted
  )");
  CHECK(server.uids() == uids{1, 2, 3});  // nothing gone before QUIT
  run(c, "C: QUIT\nS: +OK Logging out; 2 messages deleted\n");
  CHECK(c.closed());
  CHECK(server.uids() == uids{2});
}

TEST_CASE("RSET unmarks", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, R"(
    C: DELE 2
    S: +OK Message 2 deleted
    C: RSET
    S: +OK 3 messages (60 octets)
    C: RSET now
    S: -ERR RSET takes no arguments
    C: QUIT
    S: +OK Logging out; 0 messages deleted
  )");
  CHECK(server.uids() == uids{1, 2, 3});
}

TEST_CASE("QUIT before login deletes nothing", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  run(c, "C: QUIT\nS: +OK Logging out\n");
  CHECK(c.closed());
  CHECK(server.store.expunge_calls == 0);
}

TEST_CASE("commands after QUIT in the same input are not run", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, "C: QUIT\nC: DELE 1\nS: +OK Logging out; 0 messages deleted\n");
  CHECK(server.uids() == uids{1, 2, 3});
}

TEST_CASE("a dropped connection deletes nothing", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, "C: DELE 1\nS: +OK Message 1 deleted\n");
  c.drop();
  CHECK(server.uids() == uids{1, 2, 3});
  CHECK(server.store.expunge_calls == 0);
}

TEST_CASE("an idle timeout or a shutdown deletes nothing", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  {
    client c(server);
    login(c);
    run(c, "C: DELE 1\nS: +OK Message 1 deleted\n");
    CHECK(c.session().on_idle_timeout().close);
  }
  {
    client c(server);
    login(c);
    run(c, "C: DELE 2\nS: +OK Message 2 deleted\n");
    CHECK(c.session().on_shutdown().close);
  }
  CHECK(server.uids() == uids{1, 2, 3});
  CHECK(server.store.expunge_calls == 0);
}

TEST_CASE("a failed expunge answers SYS/TEMP and keeps the messages", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  server.store.fail_expunge = storage::errc::temporary;
  run(c, R"(
    C: DELE 1
    S: +OK Message 1 deleted
    C: QUIT
    S: -ERR [SYS/TEMP] Temporary failure, try again later; deleted messages were not removed
  )");
  CHECK(c.closed());  // RFC 1939 6: closed whether or not removal worked
  CHECK(server.uids() == uids{1, 2, 3});
  // The maildrop is free again.
  server.store.fail_expunge.reset();
  client d(server);
  login(d);
}

TEST_CASE("a failed \\Seen update does not stop the deletions", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  server.store.fail_store_flags = storage::errc::internal;
  run(c, R"(
    C: RETR 2
    S: +OK {*}
    S: Subject: m
    S:
    S: body
    S: .
    C: DELE 1
    S: +OK Message 1 deleted
    C: QUIT
    S: +OK Logging out; 1 messages deleted
  )");
  CHECK(server.uids() == uids{2, 3});
}

TEST_CASE("QUIT's expunge is seen by an IMAP session on the INBOX", "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  imap::session_config imap_config;
  imap_config.store = &server.store;
  imap_config.authenticate = server.config.authenticate;
  imap::session watcher(imap_config, {"127.0.0.1", 40001, false, true}, [] {});
  (void)watcher.greeting();
  const std::string selected = watcher.on_input("a LOGIN alice secret\r\nb SELECT INBOX\r\n").bytes;
  REQUIRE(selected.find("* 3 EXISTS") != std::string::npos);

  client c(server);
  login(c);
  run(c, R"(
    C: DELE 2
    S: +OK Message 2 deleted
    C: QUIT
    S: +OK Logging out; 1 messages deleted
  )");
  const std::string news = watcher.on_input("c NOOP\r\n").bytes;
  CHECK(news.find("* 2 EXPUNGE\r\n") != std::string::npos);
  CHECK(news.find("c OK") != std::string::npos);
}

TEST_CASE("messages expunged by IMAP meanwhile: QUIT still removes the rest",
          "[pop3][session][update]") {
  test_server server;
  deliver_three(server);
  client c(server);
  login(c);
  run(c, R"(
    C: DELE 1
    S: +OK Message 1 deleted
    C: DELE 2
    S: +OK Message 2 deleted
  )");
  const storage::imap_uid gone[] = {1};
  REQUIRE(server.memory->expunge(server.inbox().id, gone).ok());
  run(c, "C: QUIT\nS: +OK Logging out; 2 messages deleted\n");
  CHECK(server.uids() == uids{3});
}
