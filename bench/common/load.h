// Load generation for the protocol benchmarks: a closed loop of N clients,
// each running one session after another on its own connection, all on one
// io_context thread; plus seeding mailboxes and counting messages over IMAP.
//
// Measurement: after `warmup`, for `duration`. A session or step counts when
// it completes inside that window; clients start no session after it, and the
// sessions still running at its end finish uncounted. The CPU of this process
// (the load generator), of the server's process tree and of the whole machine
// are sampled at the window's edges.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/measure.h"
#include "common/message_generator.h"
#include "common/net_client.h"
#include "common/servers.h"

namespace packmail::bench {

struct load_options {
  tcp::endpoint server;
  unsigned clients = 50;
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds duration{20000};
  // Client i connects from sources[i % size] (empty: the default address).
  std::vector<asio::ip::address> sources;
  pid_t server_pid = -1;  // its process tree's CPU is sampled
  // 0: closed loop, each client starts its next session as soon as the last
  // ended (the server's maximum rate). > 0: paced (open loop): session k is
  // due at start + k / rate and taken by the next free client; its latency
  // counts from when it was due, so a server that falls behind shows it in
  // its latency instead of slowing the load down (no coordinated omission).
  double sessions_per_second = 0;
};

// Records the steps of one session. Step 0 is "connect" (connect + greeting,
// not a command); the others are commands.
class session_steps {
 public:
  using clock = std::chrono::steady_clock;
  // Marks the end of step `index`, which began at the end of the previous one
  // (or at begin()).
  void done(std::size_t index) {
    const auto now = clock::now();
    times_.push_back({index, now - last_});
    last_ = now;
  }
  void begin() {
    times_.clear();
    start_ = last_ = clock::now();
  }
  // A paced session: its latency counts from `due` (<= now).
  void begin(clock::time_point due) {
    begin();
    start_ = due;
  }
  clock::time_point start() const { return start_; }

  struct step_time {
    std::size_t index;
    clock::duration took;
  };
  const std::vector<step_time>& times() const { return times_; }

 private:
  std::vector<step_time> times_;
  clock::time_point start_, last_;
};

struct load_result {
  double seconds = 0;  // the measurement window
  std::uint64_t sessions = 0;
  std::uint64_t commands = 0;
  std::uint64_t errors = 0;  // failed sessions (any time)
  std::string first_error;
  std::vector<std::string> step_names;
  std::vector<latency_recorder> steps;  // by step index
  latency_recorder commands_latency;    // every command step together
  latency_recorder session_latency;     // connect (paced: due time) to close
  double paced_rate = 0;                // the load's sessions_per_second
  std::uint64_t late_sessions = 0;      // paced: started > 10 ms after due (no client free)
  double client_cpu_seconds = 0;
  double server_cpu_seconds = 0;
  double machine_busy_percent = 0;

  double sessions_per_second() const { return seconds > 0 ? sessions / seconds : 0; }
  double commands_per_second() const { return seconds > 0 ? commands / seconds : 0; }
  // The load generator's CPU as a share of one core and of the machine.
  double client_core_share() const { return seconds > 0 ? client_cpu_seconds / seconds : 0; }
  nlohmann::ordered_json to_json() const;
};

// One session on `connection` (already connected and greeted, step 0 done):
// client index, session number of that client, and the steps to mark.
using session_function = std::function<asio::awaitable<void>(
    unsigned client, std::uint64_t session, line_connection& connection, session_steps& steps)>;
// The greeting exchange for the protocol (imap_client::greeting ...).
using greeting_function = std::function<asio::awaitable<void>(line_connection& connection)>;

// Runs the load. A greeting that refuses service (service_unavailable) stops
// every client and is rethrown: the run failed.
load_result run_closed_loop(const load_options& options, std::vector<std::string> step_names,
                            greeting_function greet, session_function session);

// Runs the coroutines make(0) ... make(count - 1) on io (restarted first, so
// it may have run before), with watchdog.run() beside them, and returns when
// every one has ended: the last to end stops the watchdog and calls
// `all_done` when given (to end other work on io, such as a progress timer).
// count 0: returns at once. The first exception that escapes a coroutine is
// kept in first_error (its text), when that is still empty.
void run_all(asio::io_context& io, deadline_watchdog& watchdog, unsigned count,
             const std::function<asio::awaitable<void>(unsigned)>& make, std::string& first_error,
             const std::function<void()>& all_done = {});

// Loopback source addresses 127.0.0.2 ... (count of them): spreads many
// connections over addresses (ephemeral ports, per-address limits).
std::vector<asio::ip::address> loopback_sources(unsigned count);

// APPENDs `per_user` generated messages to every user's INBOX over IMAP, 8
// connections in parallel. Message k of user u is generator.message(u *
// per_user + k, ...). Throws on the first failure.
void seed_imap(const tcp::endpoint& server, const bench_users& users, unsigned per_user,
               const message_generator& generator);

// Sum of STATUS INBOX (MESSAGES) over the users, over IMAP.
std::uint64_t count_imap_messages(const tcp::endpoint& server, const bench_users& users);

}  // namespace packmail::bench
