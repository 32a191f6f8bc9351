// The side-by-side run shared by imap_load_bench and pop3_load_bench: the
// same load against packmaild and against Dovecot in its default and its
// high-performance login mode, one after the other, each server alone on the
// machine, then a table, the targets and one line of JSON.
//
// Two phases. Closed loop: N clients each start their next session as soon as
// the last ended -- each server's maximum sessions/s. Paced: every server gets
// the same rate (a fraction of the slowest one's maximum), so latencies are
// compared at equal load; in the closed loop a faster server just serves a
// longer queue (Little's law), and latency says little.
//
// Each server gets the same users (one passwd-file) and the same seeded
// messages (IMAP APPEND of `messages_per_user` generated messages per user).
// Dovecot's two modes share one mail directory: the second starts on what the
// first left, as a restarted server would.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "common/comparison.h"
#include "common/load.h"

namespace packmail::bench {

struct load_compare_options : comparison_options {
  unsigned clients = 50;
  double duration_s = 20;
  double warmup_s = 2;
  unsigned users = 0;  // 0: 2 x clients
  unsigned messages_per_user = 30;
  // The paced phase runs every server at this fraction of the slowest
  // server's closed-loop sessions/s, for latency at equal load. 0: skipped.
  double paced_fraction = 0.8;
};

// Adds the options above to app.
void add_load_compare_options(CLI::App& app, load_compare_options& o);

struct load_protocol {
  std::string bench;                    // "imap_load_bench"
  std::string title;                    // one line: what a session does
  std::string protocol;                 // "imap" or "pop3": the listener under load
  std::vector<std::string> step_names;  // step 0 is "connect"
  greeting_function greet;
  // The session for these users; every concurrent client must use users no
  // other client uses at the same time (POP3 locks the maildrop).
  std::function<session_function(const bench_users& users, unsigned clients)> make_session;
  double target_sessions_ratio = 2.0;  // packmail sessions/s >= this x Dovecot's
};

// Runs everything; returns the process exit code: 1 when a server's run
// failed (a greeting that refused service included), else 0.
int run_load_compare(const load_protocol& protocol, const load_compare_options& options,
                     const char* argv0);

// A load benchmark's main(): parses the options (`description` heads
// --help), then runs; an exception is reported as "<bench>: <text>", exit 1.
int load_compare_main(int argc, char** argv, const load_protocol& protocol,
                      const std::string& description);

// The user of session `session` of client `client` out of `clients`: client
// i cycles through users i, i + clients, ..., so no two clients use the same
// user at the same time.
std::size_t session_user(unsigned client, std::uint64_t session, unsigned clients,
                         const bench_users& users);

}  // namespace packmail::bench
