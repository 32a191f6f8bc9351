// lmtp_ingest_bench: LMTP deliveries per second, packmail vs Dovecot maildir
// and Dovecot mdbox.
//
// --messages (default 100,000) generated messages of about 800 bytes
// (common/message_generator.h), message i to user (i mod --users) (default
// 200), delivered over --connections (default 8) concurrent LMTP connections,
// each taking the next message as it becomes free: LHLO once, then per
// message MAIL FROM, RCPT TO, DATA, the message, and its one reply (RFC 2033
// 4.2), no pipelining. Every server syncs to disk before it answers 250: packmaild
// with its defaults (the segment store syncs its WAL), Dovecot with its
// defaults (mail_fsync = optimized: LMTP deliveries are fsynced). Afterwards
// every INBOX is counted over IMAP and must hold what was acknowledged.
//
// Target (issue): packmail messages/s >= 3x Dovecot maildir's.
// Measured by the issue on Dovecot 2.3.19: about 750 msgs/s maildir, 890 mdbox.
//
// Smoke run: lmtp_ingest_bench --messages 2000

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include <fmt/format.h>

#include "common/comparison.h"
#include "common/load.h"

namespace packmail::bench {
namespace {

using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;
constexpr double k_target_ratio = 3.0;  // packmail messages/s >= 3x Dovecot maildir

struct options {
  std::uint64_t messages = 100000;
  unsigned users = 200;
  unsigned connections = 8;
  std::string scheme = "SHA512-CRYPT";
  std::vector<std::string> servers = {"packmail", "dovecot-maildir", "dovecot-mdbox"};
  bool skip_dovecot = false;
  std::string packmaild, packmailctl;
  bool keep = false;
  std::uint64_t seed = 1;
  std::size_t mean_size = 800;
};

struct ingest_run {
  std::string name;
  std::string error;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::string first_error;
  std::optional<std::uint64_t> counted;  // over IMAP afterwards
  double seconds = 0;
  latency_recorder latency;
  double client_cpu_seconds = 0;
  double server_cpu_seconds = 0;
  double machine_busy_percent = 0;

  bool ok() const { return error.empty(); }
  double rate() const { return seconds > 0 ? delivered / seconds : 0; }
};

// Delivers the messages to the LMTP listener on port. Throws when a greeting
// refuses service (the run failed).
void ingest(const options& o, const std::vector<std::string>& messages, const bench_users& users,
            std::uint16_t port, pid_t server, ingest_run& run) {
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  asio::io_context io(1);
  deadline_watchdog watchdog(io.get_executor());
  std::uint64_t next = 0;
  bool stop = false;
  auto worker = [&](unsigned) -> asio::awaitable<void> {
    line_connection c(io.get_executor(), watchdog);
    lmtp_client lmtp(c);
    bool connected = false;
    while (!stop && next < o.messages) {
      try {
        if (!connected) {
          co_await c.connect(endpoint);
          co_await lmtp.greeting();
          co_await lmtp.command("LHLO bench.example.org");
          connected = true;
        }
        const std::uint64_t i = next++;
        const std::string rcpt = users.names[i % users.names.size()] + "@example.com";
        const auto t0 = steady::now();
        co_await lmtp.deliver("sender@example.org", rcpt, messages[i]);
        run.latency.add(steady::now() - t0);
        ++run.delivered;
      } catch (const service_unavailable&) {
        stop = true;
        throw;  // ingest() throws it once every worker has ended
      } catch (const std::exception& e) {
        // The message counts as failed; the connection starts afresh.
        ++run.failed;
        if (run.first_error.empty()) run.first_error = e.what();
        c.close();
        connected = false;
        if (run.failed > 100) stop = true;
      }
    }
    if (connected) {
      try {
        co_await lmtp.command("QUIT");
      } catch (const std::exception&) {
      }
    }
  };
  // Progress on stderr every 10 s, until the last worker ends.
  asio::steady_timer timer(io);
  auto progress = [&]() -> asio::awaitable<void> {
    const auto t0 = steady::now();
    while (!stop && run.delivered + run.failed < o.messages) {
      timer.expires_after(std::chrono::seconds(10));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stop) break;
      const double s = std::chrono::duration<double>(steady::now() - t0).count();
      fmt::print(stderr, "  {}: {}/{} messages, {:.0f} s, {:.0f} messages/s\n", run.name,
                 run.delivered, o.messages, s, run.delivered / s);
    }
  };

  const double cpu0 = self_cpu_seconds();
  const double server0 = tree_cpu_seconds(server);
  const machine_ticks ticks0 = read_machine_ticks();
  const auto t0 = steady::now();
  asio::co_spawn(io, progress(), [](std::exception_ptr) {});
  std::string escaped;
  run_all(io, watchdog, o.connections, worker, escaped, [&] {
    stop = true;
    timer.cancel();
  });
  if (!escaped.empty()) throw std::runtime_error(escaped);
  run.seconds = std::chrono::duration<double>(steady::now() - t0).count();
  run.client_cpu_seconds = self_cpu_seconds() - cpu0;
  run.server_cpu_seconds = tree_cpu_seconds(server) - server0;
  run.machine_busy_percent = busy_percent(ticks0, read_machine_ticks());
}

bool wants(const options& o, std::string_view name) {
  return wants_server(o.servers, o.skip_dovecot, name);
}

int run_bench(const options& o, const char* argv0) {
  prepare_process();
  const bench_setup setup(argv0, "lmtp_ingest_bench", o.packmaild, o.packmailctl, o.keep);
  print_header("lmtp_ingest_bench: LMTP deliveries, packmail vs Dovecot maildir and mdbox", setup,
               {fmt::format("load: {} messages of about {} bytes to {} users (round-robin) over {} "
                            "concurrent LMTP connections; MAIL, RCPT, DATA per message, no "
                            "pipelining",
                            o.messages, o.mean_size, o.users, o.connections),
                "durability: both servers at their defaults, which sync before 250 (packmail: "
                "segment store WAL sync; Dovecot: mail_fsync = optimized)"},
               " (one filesystem for every server)");

  const bench_users users =
      create_users(setup.packmailctl, setup.scratch.path() / "users", o.users, o.scheme);
  const message_generator generator(o.seed, o.mean_size);
  std::vector<std::string> messages;
  messages.reserve(o.messages);
  std::uint64_t payload = 0;
  for (std::uint64_t i = 0; i < o.messages; ++i) {
    messages.push_back(generator.message(i, users.names[i % users.names.size()] + "@example.com"));
    payload += messages.back().size();
  }
  fmt::print("payload: {} bytes, mean {:.0f} bytes per message\n\n", with_commas(payload),
             static_cast<double>(payload) / std::max<std::uint64_t>(1, o.messages));

  std::vector<ingest_run> runs;
  const auto count = [&](ingest_run& run, std::uint16_t imap_port) {
    if (!run.ok()) return;
    try {
      run.counted =
          count_imap_messages(tcp::endpoint(asio::ip::address_v4::loopback(), imap_port), users);
    } catch (const std::exception& e) {
      run.error = std::string("counting the delivered messages: ") + e.what();
    }
  };

  if (wants(o, "packmail")) {
    add_run(runs, "packmail", [&](ingest_run& run) {
      packmail_options po = packmail_for(setup, users);
      po.lmtp_port = free_port();
      packmail_server server(po);
      fmt::print(stderr, "packmail: delivering...\n");
      ingest(o, messages, users, po.lmtp_port, server.pid(), run);
      count(run, po.imap_port);
      server.stop();
    });
  }

  std::string dovecot_version;
  if (wants(o, "dovecot-maildir") || wants(o, "dovecot-mdbox")) {
    const dovecot_setup dovecot = prepare_dovecot();
    dovecot_version = dovecot.version;
    if (!dovecot.mail_user) add_failed_run(runs, "dovecot", dovecot.error);
    for (const std::string format : {"maildir", "mdbox"}) {
      const std::string name = "dovecot-" + format;
      if (!dovecot.mail_user || !wants(o, name)) continue;
      add_run(runs, name, [&](ingest_run& run) {
        dovecot_options d = dovecot_for(setup, name, name + "-homes", users, *dovecot.mail_user);
        d.mail_location = format == "maildir" ? "maildir:~/Maildir" : "mdbox:~/mdbox";
        d.lmtp_port = free_port();
        dovecot_server server(d);
        fmt::print(stderr, "{}: delivering...\n", name);
        ingest(o, messages, users, d.lmtp_port, server.pid(), run);
        count(run, d.imap_port);
        server.stop();
      });
    }
  }

  // --- the table ---------------------------------------------------------------------
  const results_table<ingest_run> table(runs, 34, 19);
  table.row("delivered (failed)",
            [](const ingest_run& r) { return fmt::format("{} ({})", r.delivered, r.failed); });
  table.row("found in INBOXes afterwards", [](const ingest_run& r) {
    return r.counted ? fmt::format("{}", *r.counted) : std::string("-");
  });
  table.row("wall time", [](const ingest_run& r) { return fmt::format("{:.1f} s", r.seconds); });
  table.row("messages/s", [](const ingest_run& r) { return with_commas(r.rate()); });
  table.row("latency p50 / p99 ms", [](const ingest_run& r) {
    return fmt::format("{:.2f} / {:.2f}", r.latency.percentile_ms(50), r.latency.percentile_ms(99));
  });
  table.row("server CPU us / message", [](const ingest_run& r) {
    return fmt::format("{:.0f}", r.delivered ? 1e6 * r.server_cpu_seconds / r.delivered : 0.0);
  });
  table.row("load generator CPU (1 core)", [](const ingest_run& r) {
    return fmt::format("{:.0f}%", 100.0 * r.client_cpu_seconds / std::max(r.seconds, 1e-9));
  });
  table.row("machine busy",
            [](const ingest_run& r) { return fmt::format("{:.0f}%", r.machine_busy_percent); });
  for (const auto& r : runs) {
    if (!r.error.empty()) fmt::print("\n  {} FAILED: {}\n", r.name, r.error);
    if (r.ok() && !r.first_error.empty())
      fmt::print("\n  {}: first error: {}\n", r.name, r.first_error);
    if (r.ok() && r.counted && *r.counted != r.delivered) {
      fmt::print("\n  {}: {} acknowledged but {} found\n", r.name, r.delivered, *r.counted);
    }
  }

  json out;
  out["bench"] = "lmtp_ingest_bench";
  out["date"] = setup.date;
  out["machine"] = machine_json();
  out["messages"] = o.messages;
  out["users"] = o.users;
  out["connections"] = o.connections;
  out["payload_bytes"] = payload;
  if (!dovecot_version.empty()) out["dovecot_version"] = dovecot_version;
  const ingest_run* pm = nullptr;
  const ingest_run* maildir = nullptr;
  for (const auto& r : runs) {
    json j;
    if (!r.error.empty()) j["error"] = r.error;
    if (r.ok()) {
      j["delivered"] = r.delivered;
      j["failed"] = r.failed;
      if (!r.first_error.empty()) j["first_error"] = r.first_error;
      j["found_afterwards"] = r.counted ? json(*r.counted) : json(nullptr);
      j["seconds"] = r.seconds;
      j["messages_per_second"] = r.rate();
      j["latency"] = r.latency.to_json();
      j["server_cpu_seconds"] = r.server_cpu_seconds;
      j["client_cpu_seconds"] = r.client_cpu_seconds;
      j["machine_busy_percent"] = r.machine_busy_percent;
    }
    out["servers"][r.name] = j;
    if (r.name == "packmail") pm = &r;
    if (r.name == "dovecot-maildir") maildir = &r;
  }
  const auto complete = [&](const ingest_run* r) {
    return r && r->ok() && r->failed == 0 && r->delivered == o.messages && r->counted &&
           *r->counted == r->delivered;
  };
  fmt::print("\n  target: packmail messages/s >= {:.0f}x Dovecot maildir's\n", k_target_ratio);
  json ratios = json::object();
  if (complete(pm)) {
    for (const auto& r : runs) {
      if (r.name.starts_with("dovecot") && complete(&r)) {
        const double ratio = pm->rate() / std::max(r.rate(), 1e-9);
        ratios[r.name] = ratio;
        fmt::print("  vs {:<20} {:>7.2f}x{}\n", r.name, ratio,
                   &r == maildir ? (ratio >= k_target_ratio ? "   PASS" : "   MISS") : "");
      }
    }
  }
  const bool compared = complete(pm) && complete(maildir);
  if (!compared)
    fmt::print("  no ratio: packmail and dovecot-maildir must both deliver everything\n");
  const bool met = compared && pm->rate() >= k_target_ratio * maildir->rate();
  out["targets"] = {
      {"messages_per_second_vs_dovecot_maildir", fmt::format(">= {}", k_target_ratio)}};
  out["ratios"] = complete(pm) ? ratios : json(nullptr);
  out["targets_met"] =
      compared ? json({{"messages_per_second_vs_dovecot_maildir", met}}) : json(nullptr);
  out["all_targets_met"] = compared ? json(met) : json(nullptr);
  print_closing(out, setup, o.keep);
  bool failed = false;
  for (const auto& r : runs) {
    failed = failed || !r.error.empty() || (r.ok() && !complete(&r));
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace packmail::bench

int main(int argc, char** argv) {
  using namespace packmail::bench;
  options o;
  bool smoke = false;
  CLI::App app{"lmtp_ingest_bench: LMTP deliveries/s, packmail vs Dovecot maildir and mdbox"};
  app.add_option("--messages", o.messages, "messages to deliver to each server")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--users", o.users, "recipients, round-robin")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "concurrent LMTP connections")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--size", o.mean_size, "mean message size in bytes")
      ->check(CLI::Range(200ul, 1ul << 24))
      ->capture_default_str();
  app.add_option("--scheme", o.scheme, "password scheme of the users (for the IMAP count)")
      ->check(CLI::IsMember({"SHA512-CRYPT", "ARGON2ID", "BLF-CRYPT", "PLAIN"}))
      ->capture_default_str();
  app.add_option("--servers", o.servers, "servers to run")
      ->delimiter(',')
      ->check(CLI::IsMember({"packmail", "dovecot-maildir", "dovecot-mdbox"}))
      ->capture_default_str();
  app.add_flag("--skip-dovecot", o.skip_dovecot, "run packmail only");
  app.add_flag("--smoke", smoke, "a quick check: --messages 2000");
  app.add_option("--packmaild", o.packmaild, "packmaild binary (default: the build tree's)");
  app.add_option("--packmailctl", o.packmailctl, "packmailctl binary (default: the build tree's)");
  app.add_flag("--keep", o.keep, "keep the scratch directory (data, configs, logs)");
  app.add_option("--seed", o.seed, "message generator seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (smoke && app.count("--messages") == 0) o.messages = 2000;
  return run_main("lmtp_ingest_bench", [&] { return run_bench(o, argv[0]); });
}
