// Drives lmtp::session in-process over a memory store with transcripts:
//
//   run(c, R"(
//     C: LHLO mta.example
//     S: 250-{*}
//     ...
//   )");
//
// The script syntax and the runner are shared (../transcript.h); this file
// brings the LMTP test_server (with its recipient resolver) and client.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../transcript.h"
#include "packmail/protocols/lmtp/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::lmtp::testing {

// The shared test support (../transcript.h).
using namespace protocols::testing;

// A store and a resolver that knows alice and bob (any domain, any case);
// "alice+work" resolves to alice with folder "work". The store's users are
// created by deliveries, not here.
struct test_server {
  std::unique_ptr<storage::mail_store> store = storage::open_memory_store();
  session_config config;
  std::vector<std::string> users = {"alice", "bob"};
  // Local parts whose lookup fails temporarily.
  std::vector<std::string> failing = {"flaky"};

  test_server() : test_server(storage::open_memory_store()) {}
  explicit test_server(std::unique_ptr<storage::mail_store> s) : store(std::move(s)) {
    config.store = store.get();
    config.host_name = "mx.test";
    config.resolve = [this](std::string_view local_part, std::string_view) -> recipient_lookup {
      const std::string local = lower_ascii(local_part);
      for (const auto& f : failing) {
        if (local == f) return lookup_failure{};
      }
      const std::size_t plus = local.find('+');
      const std::string user = local.substr(0, plus);
      for (const auto& u : users) {
        if (u != user) continue;
        recipient r{user, std::nullopt};
        if (plus != std::string::npos) r.folder = std::string(local_part.substr(plus + 1));
        return r;
      }
      return unknown_recipient{};
    };
  }

  // Messages of a user's mailbox (the user must exist).
  std::vector<storage::message_info> messages(std::string_view user, std::string_view box) {
    auto id = store->find_user(user);
    REQUIRE(id.ok());
    auto info = store->get_mailbox(*id, box);
    REQUIRE(info.ok());
    return store->list_messages(info->id).value();
  }
  std::string read(std::string_view user, std::string_view box, storage::imap_uid uid) {
    auto id = store->find_user(user).value();
    return store->read_message(store->get_mailbox(id, box)->id, uid).value();
  }
  std::uint64_t bodies() { return store->stats().value().bodies; }
  std::uint64_t stats_messages() { return store->stats().value().messages; }
};

// One connection.
class client {
 public:
  explicit client(test_server& server, connection_info info = {"192.0.2.10", 40000, false, false})
      : session_(server.config, std::move(info), [] {}) {
    greeting_ = session_.greeting().bytes;
  }

  const std::string& greeting() const { return greeting_; }
  lmtp::session& session() { return session_; }
  bool closed() const { return record_.closed; }

  // Feeds bytes whole (or one byte at a time) and returns all the output
  // (feed_session). LMTP never asks for a TLS handshake.
  std::string send(std::string_view bytes, bool byte_by_byte = false) {
    std::string out = feed_session(session_, bytes, byte_by_byte, record_);
    CHECK_FALSE(record_.start_tls);
    return out;
  }

 private:
  lmtp::session session_;
  std::string greeting_;
  output_record record_;
};

// The LHLO exchange.
inline void lhlo(client& c) {
  run(c, R"(
    C: LHLO mta.example
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SIZE {*}
  )");
}

}  // namespace packmail::protocols::lmtp::testing
