// pop3_load_bench: POP3 sessions per second, packmail vs Dovecot.
//
// --clients (default 50) clients in a closed loop each run session after
// session: connect, greeting, USER, PASS, STAT, UIDL, RETR of 5 random
// messages, QUIT (nothing deleted, so every session sees the same maildrop).
// No two clients use the same user at the same time (POP3 servers lock the
// maildrop). Against packmaild, then Dovecot 2.3 (maildir) in its default
// login mode and its high-performance mode; see common/load_compare.h. The
// messages are seeded over IMAP, so packmaild's IMAP listener runs too.
//
// Target (issue): packmail sessions/s >= 2x Dovecot's, command p99 no worse.
//
// Smoke run: pop3_load_bench --clients 4 --duration 3 --warmup 1

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <random>

#include "common/load_compare.h"

namespace packmail::bench {
namespace {

enum step : std::size_t { connect, user, pass, stat, uidl, retr, quit };

session_function make_pop3_session(const bench_users& users, unsigned clients) {
  return [&users, clients](unsigned client, std::uint64_t n, line_connection& c,
                           session_steps& steps) -> asio::awaitable<void> {
    pop3_client pop3(c);
    const std::size_t index = session_user(client, n, clients, users);
    std::mt19937_64 rng(client * 1'000'003ull + n);

    co_await pop3.command("USER " + users.names[index]);
    steps.done(user);
    co_await pop3.command("PASS " + users.password);
    steps.done(pass);
    // RFC 1939 5: "+OK nn mm" -- messages and octets.
    const pop3_reply status = co_await pop3.command("STAT");
    const std::uint64_t messages = std::strtoull(status.first_line.c_str(), nullptr, 10);
    if (messages == 0) throw protocol_error("STAT: no messages (not seeded?)");
    steps.done(stat);
    const pop3_reply uids = co_await pop3.multi_line("UIDL");
    if (uids.lines != messages) throw protocol_error("UIDL: line count differs from STAT");
    steps.done(uidl);
    for (int i = 0; i < 5; ++i) {
      const std::uint64_t which = rng() % messages + 1;
      const std::string command = fmt::format("RETR {}", which);
      const pop3_reply message = co_await pop3.multi_line(command);
      if (message.lines == 0) throw protocol_error("RETR: empty message");
      steps.done(retr);
    }
    co_await pop3.command("QUIT");
    steps.done(quit);
  };
}

asio::awaitable<void> pop3_greeting(line_connection& c) {
  pop3_client pop3(c);
  co_await pop3.greeting();
}

}  // namespace
}  // namespace packmail::bench

int main(int argc, char** argv) {
  using namespace packmail::bench;
  load_protocol p;
  p.bench = "pop3_load_bench";
  p.protocol = "pop3";
  p.title = "POP3 sessions: connect, USER, PASS, STAT, UIDL, 5 x RETR, QUIT";
  p.step_names = {"connect", "USER", "PASS", "STAT", "UIDL", "RETR", "QUIT"};
  p.greet = pop3_greeting;
  p.make_session = make_pop3_session;
  p.target_sessions_ratio = 2.0;
  return load_compare_main(argc, argv, p,
                           "pop3_load_bench: POP3 sessions/s and latency, packmail vs Dovecot");
}
