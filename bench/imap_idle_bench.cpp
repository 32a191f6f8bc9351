// imap_idle_bench: memory per idle IMAP connection, packmail vs Dovecot.
//
// For each server: start it, seed --messages-per-user messages into each of
// --users INBOXes, log in once, let it settle, and measure the memory of the
// server's whole process tree (RSS, and PSS from /proc/PID/smaps_rollup, which
// shares shared pages out instead of counting them in every process). Then
// open --connections (default 5,000) connections from several loopback
// addresses, each LOGIN, SELECT INBOX, IDLE (RFC 2177) -- at most
// --concurrency being set up at once -- wait --settle seconds, and measure
// again. Per connection = (after - before) / connections. Finally every
// connection sends DONE and must get its tagged OK (proof the server still
// held it), then LOGOUT.
//
// Dovecot runs one imap process per logged-in connection (in both login
// modes), so its figure is the sum over thousands of processes; PSS is the
// fair sum. packmaild is one process.
//
// Target (issue): at most 64 KiB per connection for packmail.
// Measured by the issue on Dovecot 2.3.19 maildir: about 523 KiB PSS.
//
// Smoke run: imap_idle_bench --connections 200

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/comparison.h"
#include "common/load.h"

namespace packmail::bench {
namespace {

using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;
constexpr double k_target_kib_per_connection = 64;

struct options : comparison_options {
  unsigned connections = 5000;
  unsigned users = 200;
  unsigned messages_per_user = 10;
  unsigned concurrency = 64;
  double settle_s = 3;
};

struct idle_run {
  std::string name;
  std::string error;
  tree_memory before, after;
  unsigned opened = 0;  // connections that reached IDLE
  unsigned failed = 0;  // connections that did not
  std::string first_error;
  unsigned confirmed = 0;   // answered DONE with OK after the measurement
  double open_seconds = 0;  // to open them all
  double client_cpu_seconds = 0;

  bool ok() const { return error.empty(); }
  double delta(std::uint64_t tree_memory::*field) const {
    return static_cast<double>(after.*field) - static_cast<double>(before.*field);
  }
  double per_connection_kib(std::uint64_t tree_memory::*field) const {
    return opened ? delta(field) / opened / 1024.0 : 0;
  }
};

// Opens the connections, measures while they idle, then checks and closes them.
// Throws when the first login fails or a greeting refuses service.
void run_idle(const options& o, const bench_users& users, std::uint16_t port, pid_t server,
              idle_run& run) {
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  // A first login initializes what every server initializes once (stores,
  // auth processes), so the baseline is a running server, not a cold one.
  {
    asio::io_context io(1);
    deadline_watchdog watchdog(io.get_executor());
    auto warm = [&](unsigned) -> asio::awaitable<void> {
      line_connection c(io.get_executor(), watchdog);
      imap_client imap(c);
      co_await c.connect(endpoint);
      co_await imap.greeting();
      co_await imap.command("LOGIN " + imap_quote(users.names[0]) + " " +
                            imap_quote(users.password));
      co_await imap.command("SELECT INBOX");
      co_await imap.command("LOGOUT");
    };
    std::string error;
    run_all(io, watchdog, 1, warm, error);
    if (!error.empty()) throw std::runtime_error("first login: " + error);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  run.before = measure_tree_memory(server);

  asio::io_context io(1);
  deadline_watchdog watchdog(io.get_executor());
  const auto sources = loopback_sources(o.sources);
  std::vector<std::unique_ptr<line_connection>> held(o.connections);
  std::vector<std::unique_ptr<imap_client>> clients(o.connections);
  unsigned next = 0;
  const double cpu0 = self_cpu_seconds();
  const auto t0 = steady::now();

  // Phase 1: open, log in, SELECT, IDLE; --concurrency workers. A greeting
  // that refuses service escapes its worker (into `escaped`), which stops the
  // others, and fails the run.
  std::string escaped;
  auto opener = [&](unsigned) -> asio::awaitable<void> {
    while (next < o.connections && escaped.empty()) {
      const unsigned i = next++;
      auto c =
          std::make_unique<line_connection>(io.get_executor(), watchdog, std::chrono::seconds(60));
      auto imap = std::make_unique<imap_client>(*c);
      try {
        co_await c->connect(endpoint, sources[i % sources.size()]);
        co_await imap->greeting();
        const std::string& user = users.names[i % users.names.size()];
        co_await imap->command("LOGIN " + imap_quote(user) + " " + imap_quote(users.password));
        co_await imap->command("SELECT INBOX");
        co_await imap->idle();
        held[i] = std::move(c);
        clients[i] = std::move(imap);
        ++run.opened;
      } catch (const service_unavailable&) {
        throw;
      } catch (const std::exception& e) {
        ++run.failed;
        if (run.first_error.empty()) run.first_error = e.what();
      }
      if ((run.opened + run.failed) % 1000 == 0) {
        fmt::print(stderr, "  {}: {} connections idling, {} failed, {:.0f} s\n", run.name,
                   run.opened, run.failed,
                   std::chrono::duration<double>(steady::now() - t0).count());
      }
    }
  };
  run_all(io, watchdog, o.concurrency, opener, escaped);
  if (!escaped.empty()) throw std::runtime_error("opening the connections: " + escaped);
  run.open_seconds = std::chrono::duration<double>(steady::now() - t0).count();
  run.client_cpu_seconds = self_cpu_seconds() - cpu0;

  // Phase 2: idle, then measure.
  fmt::print(stderr, "{}: {} connections idling ({} failed) after {:.1f} s; settling {:.0f} s\n",
             run.name, run.opened, run.failed, run.open_seconds, o.settle_s);
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(o.settle_s * 1000)));
  run.after = measure_tree_memory(server);

  // Phase 3: every connection ends its IDLE and logs out.
  unsigned index = 0;
  auto closer = [&](unsigned) -> asio::awaitable<void> {
    while (index < o.connections) {
      const unsigned i = index++;
      if (!held[i]) continue;
      try {
        co_await clients[i]->done();
        ++run.confirmed;
        co_await clients[i]->command("LOGOUT");
      } catch (const std::exception& e) {
        if (run.first_error.empty()) run.first_error = std::string("after idling: ") + e.what();
      }
      held[i]->close();
    }
  };
  run_all(io, watchdog, o.concurrency, closer, escaped);
  if (!escaped.empty() && run.first_error.empty()) run.first_error = "closing: " + escaped;
  clients.clear();
  held.clear();
}

bool wants(const options& o, std::string_view name) {
  return wants_server(o.servers, o.skip_dovecot, name);
}

int run_bench(const options& o, const char* argv0) {
  const std::uint64_t open_files = prepare_process();
  if (open_files < o.connections + 100) {
    fmt::print(stderr, "open file limit {} is too low for {} connections (raise ulimit -Hn)\n",
               open_files, o.connections);
    return 2;
  }
  const bench_setup setup(argv0, "imap_idle_bench", o.packmaild, o.packmailctl, o.keep);
  print_header(
      "imap_idle_bench: memory per idle IMAP connection, packmail vs Dovecot", setup,
      {fmt::format(
           "load: {} connections (LOGIN, SELECT INBOX, IDLE) over {} users with {} messages each, "
           "from {} loopback addresses, {} being opened at a time; measured after {:.0f} s idle",
           o.connections, o.users, o.messages_per_user, o.sources, o.concurrency, o.settle_s),
       "memory: the server's whole process tree, after minus before, / connections"});

  const bench_users users =
      create_users(setup.packmailctl, setup.scratch.path() / "users", o.users, o.scheme);
  const message_generator generator(o.seed);
  std::vector<idle_run> runs;

  if (wants(o, "packmail")) {
    add_run(runs, "packmail", [&](idle_run& run) {
      packmail_options po = packmail_for(setup, users);
      po.max_connections = o.connections + 1000;
      packmail_server server(po);
      fmt::print(stderr, "packmail: seeding...\n");
      seed_imap(tcp::endpoint(asio::ip::address_v4::loopback(), po.imap_port), users,
                o.messages_per_user, generator);
      run_idle(o, users, po.imap_port, server.pid(), run);
      server.stop();
    });
  }

  std::string dovecot_version;
  if (wants(o, "dovecot-default") || wants(o, "dovecot-performance")) {
    const dovecot_setup dovecot = prepare_dovecot();
    dovecot_version = dovecot.version;
    if (!dovecot.mail_user) add_failed_run(runs, "dovecot", dovecot.error);
    bool seeded = false;
    for (const auto mode : {dovecot_login_mode::standard, dovecot_login_mode::performance}) {
      const std::string name = std::string("dovecot-") + mode_name(mode);
      if (!dovecot.mail_user || !wants(o, name)) continue;
      add_run(runs, name, [&](idle_run& run) {
        dovecot_options d = dovecot_for(setup, name, "dovecot-homes", users, *dovecot.mail_user);
        d.mode = mode;
        d.max_connections = o.connections + 100;
        dovecot_server server(d);
        if (!seeded) {
          fmt::print(stderr, "{}: seeding...\n", name);
          seed_imap(tcp::endpoint(asio::ip::address_v4::loopback(), d.imap_port), users,
                    o.messages_per_user, generator);
          seeded = true;
        }
        run_idle(o, users, d.imap_port, server.pid(), run);
        server.stop();
      });
    }
  }

  // --- the table ---------------------------------------------------------------------
  fmt::print("\n");
  const results_table<idle_run> table(runs, 34, 21);
  const auto mib = [](double bytes) { return fmt::format("{:.1f} MiB", bytes / (1 << 20)); };
  table.row("connections idling (failed)",
            [](const idle_run& r) { return fmt::format("{} ({})", r.opened, r.failed); });
  table.row("time to open them", [](const idle_run& r) {
    return fmt::format("{:.1f} s ({:.0f}/s)", r.open_seconds,
                       r.opened / std::max(r.open_seconds, 1e-9));
  });
  table.row("processes before / after", [](const idle_run& r) {
    return fmt::format("{} / {}", r.before.processes, r.after.processes);
  });
  table.row("RSS before", [&](const idle_run& r) { return mib(r.before.rss_bytes); });
  table.row("RSS after", [&](const idle_run& r) { return mib(r.after.rss_bytes); });
  table.row("PSS before", [&](const idle_run& r) { return mib(r.before.pss_bytes); });
  table.row("PSS after", [&](const idle_run& r) { return mib(r.after.pss_bytes); });
  table.row("RSS per connection", [](const idle_run& r) {
    return fmt::format("{:.1f} KiB", r.per_connection_kib(&tree_memory::rss_bytes));
  });
  table.row("PSS per connection", [](const idle_run& r) {
    return fmt::format("{:.1f} KiB", r.per_connection_kib(&tree_memory::pss_bytes));
  });
  table.row("answered DONE after idling",
            [](const idle_run& r) { return fmt::format("{}", r.confirmed); });
  table.row("load generator CPU while opening", [](const idle_run& r) {
    return fmt::format("{:.0f}%", 100.0 * r.client_cpu_seconds / std::max(r.open_seconds, 1e-9));
  });
  for (const auto& r : runs) {
    if (!r.error.empty()) fmt::print("\n  {} FAILED: {}\n", r.name, r.error);
    if (r.ok() && !r.first_error.empty()) {
      fmt::print("\n  {}: first error: {}\n", r.name, r.first_error);
    }
  }

  json out;
  out["bench"] = "imap_idle_bench";
  out["date"] = setup.date;
  out["machine"] = machine_json();
  out["connections"] = o.connections;
  out["users"] = o.users;
  out["messages_per_user"] = o.messages_per_user;
  out["password_scheme"] = o.scheme;
  if (!dovecot_version.empty()) out["dovecot_version"] = dovecot_version;
  const idle_run* pm = nullptr;
  for (const auto& r : runs) {
    json j;
    if (!r.error.empty()) j["error"] = r.error;
    if (r.ok()) {
      j["connections_idling"] = r.opened;
      j["connections_failed"] = r.failed;
      if (!r.first_error.empty()) j["first_error"] = r.first_error;
      j["confirmed_after_idle"] = r.confirmed;
      j["open_seconds"] = r.open_seconds;
      j["processes_before"] = r.before.processes;
      j["processes_after"] = r.after.processes;
      j["rss_before_bytes"] = r.before.rss_bytes;
      j["rss_after_bytes"] = r.after.rss_bytes;
      j["pss_before_bytes"] = r.before.pss_bytes;
      j["pss_after_bytes"] = r.after.pss_bytes;
      j["rss_per_connection_kib"] = r.per_connection_kib(&tree_memory::rss_bytes);
      j["pss_per_connection_kib"] = r.per_connection_kib(&tree_memory::pss_bytes);
      j["client_cpu_seconds_opening"] = r.client_cpu_seconds;
    }
    out["servers"][r.name] = j;
    if (r.name == "packmail") pm = &r;
  }

  const bool measured = pm && pm->ok() && pm->opened > 0;
  const bool all_held = measured && pm->failed == 0 && pm->confirmed == pm->opened;
  const double pm_rss = measured ? pm->per_connection_kib(&tree_memory::rss_bytes) : 0;
  const double pm_pss = measured ? pm->per_connection_kib(&tree_memory::pss_bytes) : 0;
  // packmaild is one process: its RSS delta is the honest figure (PSS equals it
  // but for pages shared with nobody else).
  const bool met = measured && all_held && pm_rss <= k_target_kib_per_connection;
  fmt::print("\n  target: packmail <= {:.0f} KiB per idle connection (RSS)\n",
             k_target_kib_per_connection);
  if (measured) {
    fmt::print("  packmail RSS per connection {:>10.1f} KiB {:>12} {}{}\n", pm_rss,
               fmt::format("<= {:.0f}", k_target_kib_per_connection), met ? "PASS" : "MISS",
               all_held ? "" : " (not every connection was held)");
  }
  json ratios = json::object();
  for (const auto& r : runs) {
    if (!measured || !r.ok() || !r.name.starts_with("dovecot") || r.opened == 0) continue;
    const double d_pss = r.per_connection_kib(&tree_memory::pss_bytes);
    const double d_rss = r.per_connection_kib(&tree_memory::rss_bytes);
    ratios[r.name] = {{"pss_per_connection", pm_pss / std::max(d_pss, 1e-9)},
                      {"rss_per_connection", pm_rss / std::max(d_rss, 1e-9)}};
    fmt::print("  vs {:<22} PSS per connection {:.3f}x ({:.1f} vs {:.1f} KiB)\n", r.name,
               pm_pss / std::max(d_pss, 1e-9), pm_pss, d_pss);
  }
  out["targets"] = {
      {"packmail_rss_per_connection_kib", fmt::format("<= {}", k_target_kib_per_connection)}};
  out["ratios"] = measured ? ratios : json(nullptr);
  out["targets_met"] = measured ? json({{"packmail_rss_per_connection_kib", met}}) : json(nullptr);
  out["all_targets_met"] = measured ? json(met) : json(nullptr);
  print_closing(out, setup, o.keep);
  bool failed = false;
  for (const auto& r : runs) failed = failed || !r.error.empty();
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace packmail::bench

int main(int argc, char** argv) {
  using namespace packmail::bench;
  options o;
  CLI::App app{"imap_idle_bench: memory per idle IMAP connection, packmail vs Dovecot"};
  app.add_option("--connections", o.connections, "IDLE connections to hold")
      ->check(CLI::Range(1u, 60000u))
      ->capture_default_str();
  app.add_option("--users", o.users, "users (connection i logs in as user i mod users)")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--messages-per-user", o.messages_per_user, "messages seeded per INBOX")
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency, "connections being set up at once")
      ->check(CLI::Range(1u, 10000u))
      ->capture_default_str();
  app.add_option("--settle", o.settle_s, "seconds to wait idle before measuring")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  add_server_options(app, o);
  add_run_options(app, o);
  CLI11_PARSE(app, argc, argv);
  return run_main("imap_idle_bench", [&] { return run_bench(o, argv[0]); });
}
