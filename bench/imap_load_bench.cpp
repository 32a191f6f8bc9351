// imap_load_bench: IMAP sessions per second, packmail vs Dovecot.
//
// --clients (default 50) clients in a closed loop each run session after
// session: connect, greeting, LOGIN, SELECT INBOX, FETCH 1:* (FLAGS
// RFC822.SIZE ENVELOPE), FETCH of 10 bodies (BODY.PEEK[] of 10 random
// messages in one command), STORE +FLAGS (\Flagged) on one message, LOGOUT.
// Against packmaild, then Dovecot 2.3 (maildir) in its default login mode and
// in its high-performance mode; see common/load_compare.h.
//
// Target (issue): packmail sessions/s >= 2x Dovecot's, command p99 no worse.
//
// Smoke run: imap_load_bench --clients 4 --duration 3 --warmup 1

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <random>

#include "common/load_compare.h"

namespace packmail::bench {
namespace {

enum step : std::size_t { connect, login, select, fetch_all, fetch_bodies, store, logout };

session_function make_imap_session(const bench_users& users, unsigned clients) {
  return [&users, clients](unsigned client, std::uint64_t n, line_connection& c,
                           session_steps& steps) -> asio::awaitable<void> {
    imap_client imap(c);
    const std::size_t user = session_user(client, n, clients, users);
    std::mt19937_64 rng(client * 1'000'003ull + n);

    const std::string login_command =
        "LOGIN " + imap_quote(users.names[user]) + " " + imap_quote(users.password);
    co_await imap.command(login_command);
    steps.done(login);
    const imap_reply selected = co_await imap.command("SELECT INBOX");
    steps.done(select);
    const std::uint64_t exists = selected.exists.value_or(0);
    if (exists == 0) throw protocol_error("SELECT INBOX: no messages (not seeded?)");
    co_await imap.command("FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)");
    steps.done(fetch_all);
    // 10 distinct random sequence numbers (or all when fewer).
    std::vector<std::uint64_t> all(exists);
    for (std::uint64_t i = 0; i < exists; ++i) all[i] = i + 1;
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(std::min<std::size_t>(10, all.size()));
    std::sort(all.begin(), all.end());
    const std::string bodies = fmt::format("FETCH {} (BODY.PEEK[])", fmt::join(all, ","));
    const imap_reply fetched = co_await imap.command(bodies);
    if (fetched.literal_bytes == 0) throw protocol_error("FETCH BODY.PEEK[]: no literal");
    steps.done(fetch_bodies);
    const std::string store_command = fmt::format("STORE {} +FLAGS (\\Flagged)", all.front());
    co_await imap.command(store_command);
    steps.done(store);
    co_await imap.command("LOGOUT");
    steps.done(logout);
  };
}

asio::awaitable<void> imap_greeting(line_connection& c) {
  imap_client imap(c);
  co_await imap.greeting();
}

}  // namespace
}  // namespace packmail::bench

int main(int argc, char** argv) {
  using namespace packmail::bench;
  load_protocol p;
  p.bench = "imap_load_bench";
  p.protocol = "imap";
  p.title =
      "IMAP sessions: connect, LOGIN, SELECT INBOX, FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE), "
      "FETCH 10 x BODY.PEEK[], STORE +FLAGS (\\Flagged), LOGOUT";
  p.step_names = {"connect",         "LOGIN", "SELECT", "FETCH 1:* envelopes",
                  "FETCH 10 bodies", "STORE", "LOGOUT"};
  p.greet = imap_greeting;
  p.make_session = make_imap_session;
  p.target_sessions_ratio = 2.0;
  return load_compare_main(argc, argv, p,
                           "imap_load_bench: IMAP sessions/s and latency, packmail vs Dovecot");
}
