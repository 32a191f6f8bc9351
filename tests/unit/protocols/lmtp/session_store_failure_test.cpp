// Store and lookup failures: a failed append answers every recipient with
// 451 4.3.0 (the MTA retries; the append is all or nothing), over quota with
// 552 5.2.2, a failure for one user only touches that recipient, and a
// temporary lookup failure is 451 4.3.0 at RCPT.
#include "../fault_store.h"
#include "session_script.h"

using namespace packmail::protocols::lmtp::testing;
using packmail::protocols::testing::fault_store;
namespace storage = packmail::storage;

namespace {

// The test server over a fault_store over a memory store.
struct failing_server {
  std::unique_ptr<storage::mail_store> memory = storage::open_memory_store();
  fault_store* store = new fault_store(*memory);  // owned by server, destroyed before memory
  test_server server{std::unique_ptr<storage::mail_store>(store)};
};

constexpr std::string_view k_two_recipients = R"(
  C: MAIL FROM:<a@b>
  S: 250 2.1.0 OK
  C: RCPT TO:<alice@x>
  S: 250 2.1.5 OK
  C: RCPT TO:<bob@x>
  S: 250 2.1.5 OK
  C: DATA
  S: 354 {*}
  C: x
  C: .
)";

}  // namespace

TEST_CASE("a temporary store failure: 451 4.3.0 for every recipient, nothing stored",
          "[lmtp][session][store]") {
  failing_server f;
  f.store->fail_append = storage::errc::temporary;
  client c(f.server);
  lhlo(c);
  run(c, std::string(k_two_recipients) + R"(
    S: 451 4.3.0 <alice@x> Temporary failure, try again later
    S: 451 4.3.0 <bob@x> Temporary failure, try again later
  )");
  CHECK(f.store->append_calls == 1);
  CHECK(f.server.stats_messages() == 0);
  // The session goes on; the next attempt succeeds.
  f.store->fail_append.reset();
  run(c, std::string(k_two_recipients) + R"(
    S: 250 2.0.0 <alice@x> {*} Saved
    S: 250 2.0.0 <bob@x> {*} Saved
  )");
}

TEST_CASE("every other append failure is 451 4.3.0 too, over quota is 552 5.2.2",
          "[lmtp][session][store]") {
  for (auto code : {storage::errc::internal, storage::errc::corrupt, storage::errc::try_create,
                    storage::errc::in_use, storage::errc::invalid_argument}) {
    failing_server f;
    f.store->fail_append = code;
    client c(f.server);
    lhlo(c);
    run(c, std::string(k_two_recipients) + R"(
      S: 451 4.3.0 <alice@x> Local error in processing, try again later
      S: 451 4.3.0 <bob@x> Local error in processing, try again later
    )");
  }
  failing_server f;
  f.store->fail_append = storage::errc::over_quota;
  client c(f.server);
  lhlo(c);
  run(c, std::string(k_two_recipients) + R"(
    S: 552 5.2.2 <alice@x> Mailbox is full
    S: 552 5.2.2 <bob@x> Mailbox is full
  )");
}

TEST_CASE("a failure for one user answers that recipient only", "[lmtp][session][store]") {
  failing_server f;
  f.store->fail_ensure_user_for["alice"] = storage::errc::temporary;
  client c(f.server);
  lhlo(c);
  run(c, std::string(k_two_recipients) + R"(
    S: 451 4.3.0 <alice@x> Temporary failure, try again later
    S: 250 2.0.0 <bob@x> {*} Saved
  )");
  CHECK(f.server.messages("bob", "INBOX").size() == 1);
}

TEST_CASE("no append at all when no recipient's mailbox could be found", "[lmtp][session][store]") {
  failing_server f;
  f.store->fail_ensure_user_for["alice"] = storage::errc::over_quota;
  client c(f.server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice@x>
    S: 250 2.1.5 OK
    C: RCPT TO:<ALICE@x>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: x
    C: .
    S: 552 5.2.2 <alice@x> Mailbox is full
    S: 552 5.2.2 <ALICE@x> Mailbox is full
  )");
  CHECK(f.store->append_calls == 0);
}

TEST_CASE("a temporary lookup failure is 451 4.3.0 at RCPT", "[lmtp][session][store]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<flaky@x>
    S: 451 4.3.0 <flaky@x> Temporary user lookup failure
    C: RCPT TO:<alice@x>
    S: 250 2.1.5 OK
  )");
}

TEST_CASE("no resolver configured, or one that throws: 451 4.3.0 at RCPT",
          "[lmtp][session][store]") {
  test_server server;
  server.config.resolve = nullptr;
  {
    client c(server);
    lhlo(c);
    run(c, R"(
      C: MAIL FROM:<a@b>
      S: 250 2.1.0 OK
      C: RCPT TO:<alice@x>
      S: 451 4.3.0 <alice@x> Temporary user lookup failure
    )");
  }
  server.config.resolve = [](std::string_view,
                             std::string_view) -> packmail::protocols::lmtp::recipient_lookup {
    throw std::runtime_error("database down");
  };
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice@x>
    S: 451 4.3.0 <alice@x> Temporary user lookup failure
  )");
}
