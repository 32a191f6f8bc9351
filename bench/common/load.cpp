#include "common/load.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <functional>
#include <memory>
#include <string_view>

#include <fmt/format.h>

namespace packmail::bench {

namespace {

using asio::awaitable;
using clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

void run_all(asio::io_context& io, deadline_watchdog& watchdog, unsigned count,
             const std::function<asio::awaitable<void>(unsigned)>& make, std::string& first_error,
             const std::function<void()>& all_done) {
  if (count == 0) return;
  io.restart();
  auto remaining = std::make_shared<unsigned>(count);
  asio::co_spawn(io, watchdog.run(), [](std::exception_ptr) {});
  for (unsigned i = 0; i < count; ++i) {
    auto done = [&, remaining](std::exception_ptr e) {
      if (e && first_error.empty()) first_error = describe(e);
      if (--*remaining > 0) return;
      watchdog.stop();
      if (all_done) all_done();
    };
    asio::co_spawn(io, make(i), done);
  }
  io.run();
}

std::vector<asio::ip::address> loopback_sources(unsigned count) {
  std::vector<asio::ip::address> out;
  for (unsigned i = 0; i < count; ++i) {
    out.push_back(asio::ip::address_v4((127u << 24) | (2u + i)));
  }
  return out;
}

nlohmann::ordered_json load_result::to_json() const {
  nlohmann::ordered_json j;
  j["seconds"] = seconds;
  if (paced_rate > 0) {
    j["paced_sessions_per_second"] = paced_rate;
    j["late_sessions"] = late_sessions;
  }
  j["sessions"] = sessions;
  j["sessions_per_second"] = sessions_per_second();
  j["commands"] = commands;
  j["commands_per_second"] = commands_per_second();
  j["failed_sessions"] = errors;
  if (!first_error.empty()) j["first_error"] = first_error;
  j["command_latency"] = commands_latency.to_json();
  j["session_latency"] = session_latency.to_json();
  nlohmann::ordered_json steps_json;
  for (std::size_t i = 0; i < steps.size(); ++i) steps_json[step_names[i]] = steps[i].to_json();
  j["steps"] = steps_json;
  j["client_cpu_seconds"] = client_cpu_seconds;
  j["client_cpu_core_share"] = client_core_share();
  j["server_cpu_seconds"] = server_cpu_seconds;
  j["server_cpu_ms_per_session"] = sessions ? 1000.0 * server_cpu_seconds / sessions : 0.0;
  j["machine_busy_percent"] = machine_busy_percent;
  return j;
}

load_result run_closed_loop(const load_options& o, std::vector<std::string> step_names,
                            greeting_function greet, session_function session) {
  load_result r;
  r.step_names = std::move(step_names);
  r.steps.resize(r.step_names.size());
  asio::io_context io(1);
  deadline_watchdog watchdog(io.get_executor());

  const auto start = clock::now();
  const auto window_start = start + o.warmup;
  const auto window_end = window_start + o.duration;
  bool stopping = false;       // a greeting refused service: every client stops
  std::exception_ptr refused;  // that greeting's service_unavailable
  const bool paced = o.sessions_per_second > 0;
  std::uint64_t next_due = 0;  // paced: the next session to start
  r.paced_rate = o.sessions_per_second;

  double cpu0 = 0, server0 = 0;
  machine_ticks ticks0;
  // Samples the counters at both edges of the window.
  auto sampler = [&]() -> awaitable<void> {
    asio::steady_timer timer(io);
    timer.expires_at(window_start);
    co_await timer.async_wait(use_nothrow);
    cpu0 = self_cpu_seconds();
    server0 = o.server_pid > 0 ? tree_cpu_seconds(o.server_pid) : 0;
    ticks0 = read_machine_ticks();
    timer.expires_at(window_end);
    co_await timer.async_wait(use_nothrow);
    const auto measured_at = clock::now();
    r.client_cpu_seconds = self_cpu_seconds() - cpu0;
    r.server_cpu_seconds = o.server_pid > 0 ? tree_cpu_seconds(o.server_pid) - server0 : 0;
    r.machine_busy_percent = busy_percent(ticks0, read_machine_ticks());
    r.seconds = std::chrono::duration<double>(measured_at - window_start).count();
  };

  auto client = [&](unsigned index) -> awaitable<void> {
    line_connection connection(io.get_executor(), watchdog);
    session_steps steps;
    std::optional<asio::ip::address> source;
    if (!o.sources.empty()) source = o.sources[index % o.sources.size()];
    asio::steady_timer pause(io);
    for (std::uint64_t n = 0; !stopping && clock::now() < window_end; ++n) {
      bool failed = false;
      std::string error;
      if (paced) {
        const auto due =
            start + std::chrono::duration_cast<clock::duration>(
                        std::chrono::duration<double>(next_due++ / o.sessions_per_second));
        if (due >= window_end) break;
        pause.expires_at(due);
        co_await pause.async_wait(use_nothrow);
        if (clock::now() - due > std::chrono::milliseconds(10) && due >= window_start) {
          ++r.late_sessions;
        }
        steps.begin(due);
      } else {
        steps.begin();
      }
      try {
        co_await connection.connect(o.server, source);
        co_await greet(connection);
        steps.done(0);
        co_await session(index, n, connection, steps);
        connection.close();
      } catch (const service_unavailable&) {
        if (!refused) refused = std::current_exception();
        stopping = true;
        failed = true;
      } catch (const std::exception& e) {
        failed = true;
        error = e.what();
      }
      connection.close();
      const auto end = clock::now();
      if (failed) {
        ++r.errors;
        if (r.first_error.empty() && !error.empty()) r.first_error = error;
        // Do not spin on a server that refuses everything.
        pause.expires_after(std::chrono::milliseconds(20));
        co_await pause.async_wait(use_nothrow);
        continue;
      }
      if (end < window_start || end > window_end) continue;
      ++r.sessions;
      r.session_latency.add(end - steps.start());
      for (const auto& t : steps.times()) {
        r.steps[t.index].add(t.took);
        if (t.index != 0) {
          ++r.commands;
          r.commands_latency.add(t.took);
        }
      }
    }
  };

  std::string escaped;
  auto make = [&](unsigned i) -> awaitable<void> {
    if (i == o.clients) return sampler();
    return client(i);
  };
  run_all(io, watchdog, o.clients + 1, make, escaped);
  if (refused) std::rethrow_exception(refused);
  if (r.seconds == 0) {
    r.seconds = std::chrono::duration<double>(clock::now() - window_start).count();
  }
  if (!escaped.empty() && r.first_error.empty()) r.first_error = escaped;
  return r;
}

namespace {

// Logs every user in over IMAP, 8 connections in parallel, and runs
// in_session(imap, user index) between LOGIN and LOGOUT. Throws
// "<what>: <the first error>" when anything failed.
void for_each_user_over_imap(
    const tcp::endpoint& server, const bench_users& users, std::string_view what,
    const std::function<awaitable<void>(imap_client& imap, std::size_t user)>& in_session) {
  asio::io_context io(1);
  deadline_watchdog watchdog(io.get_executor());
  std::size_t next_user = 0;
  std::string error;
  auto worker = [&](unsigned) -> awaitable<void> {
    line_connection c(io.get_executor(), watchdog);
    imap_client imap(c);
    while (next_user < users.names.size() && error.empty()) {
      const std::size_t u = next_user++;
      co_await c.connect(server);
      co_await imap.greeting();
      co_await imap.command("LOGIN " + imap_quote(users.names[u]) + " " +
                            imap_quote(users.password));
      co_await in_session(imap, u);
      co_await imap.command("LOGOUT");
      c.close();
    }
  };
  run_all(io, watchdog, 8, worker, error);
  if (!error.empty()) throw std::runtime_error(fmt::format("{}: {}", what, error));
}

}  // namespace

void seed_imap(const tcp::endpoint& server, const bench_users& users, unsigned per_user,
               const message_generator& generator) {
  for_each_user_over_imap(
      server, users, "seeding over IMAP", [&](imap_client& imap, std::size_t u) -> awaitable<void> {
        const std::string& name = users.names[u];
        for (unsigned k = 0; k < per_user; ++k) {
          const std::string message = generator.message(u * per_user + k, name + "@example.com");
          co_await imap.append("INBOX", message);
        }
      });
}

std::uint64_t count_imap_messages(const tcp::endpoint& server, const bench_users& users) {
  std::uint64_t total = 0;
  for_each_user_over_imap(
      server, users, "counting over IMAP",
      [&](imap_client& imap, std::size_t u) -> awaitable<void> {
        // SELECT's "* n EXISTS" (RFC 3501 7.3.1) is the message count.
        const imap_reply reply = co_await imap.command("EXAMINE INBOX");
        if (!reply.exists) throw protocol_error("EXAMINE INBOX: no EXISTS for " + users.names[u]);
        total += *reply.exists;
      });
  return total;
}

}  // namespace packmail::bench
