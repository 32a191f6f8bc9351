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
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/load.h"

namespace packmail::bench {
namespace {

using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;
constexpr double k_target_kib_per_connection = 64;

struct options {
  unsigned connections = 5000;
  unsigned users = 200;
  unsigned messages_per_user = 10;
  unsigned concurrency = 64;
  double settle_s = 3;
  std::string scheme = "SHA512-CRYPT";
  std::vector<std::string> servers = {"packmail", "dovecot-default", "dovecot-performance"};
  bool skip_dovecot = false;
  std::string packmaild, packmailctl;
  unsigned sources = 16;
  bool keep = false;
  std::uint64_t seed = 1;
};

struct idle_run {
  std::string name;
  std::string error;
  std::string unavailable;
  tree_memory before, after;
  unsigned opened = 0;  // connections that reached IDLE
  unsigned failed = 0;  // connections that did not
  std::string first_error;
  unsigned confirmed = 0;   // answered DONE with OK after the measurement
  double open_seconds = 0;  // to open them all
  double client_cpu_seconds = 0;

  bool ok() const { return error.empty() && unavailable.empty(); }
  double delta(std::uint64_t tree_memory::*field) const {
    return static_cast<double>(after.*field) - static_cast<double>(before.*field);
  }
  double per_connection_kib(std::uint64_t tree_memory::*field) const {
    return opened ? delta(field) / opened / 1024.0 : 0;
  }
};

// Opens the connections, measures while they idle, then checks and closes them.
void run_idle(const options& o, const bench_users& users, std::uint16_t port, pid_t server,
              idle_run& run) {
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  // A first login initializes what every server initializes once (stores,
  // auth processes), so the baseline is a running server, not a cold one.
  {
    asio::io_context io(1);
    deadline_watchdog watchdog(io.get_executor());
    std::string error;
    auto warm = [&]() -> asio::awaitable<void> {
      line_connection c(io.get_executor(), watchdog);
      imap_client imap(c);
      try {
        co_await c.connect(endpoint);
        co_await imap.greeting();
        co_await imap.command("LOGIN " + imap_quote(users.names[0]) + " " +
                              imap_quote(users.password));
        co_await imap.command("SELECT INBOX");
        co_await imap.command("LOGOUT");
      } catch (const service_unavailable& e) {
        run.unavailable = e.what();
      } catch (const std::exception& e) {
        error = e.what();
      }
      watchdog.stop();
    };
    asio::co_spawn(io, watchdog.run(), [](std::exception_ptr) {});
    asio::co_spawn(io, warm(), [](std::exception_ptr) {});
    io.run();
    if (!run.unavailable.empty()) return;
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

  // Phase 1: open, log in, SELECT, IDLE; --concurrency workers.
  auto opener = [&](unsigned) -> asio::awaitable<void> {
    while (next < o.connections && run.unavailable.empty()) {
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
      } catch (const service_unavailable& e) {
        run.unavailable = e.what();
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
  std::string escaped;
  {
    unsigned remaining = o.concurrency;
    asio::co_spawn(io, watchdog.run(), [](std::exception_ptr) {});
    for (unsigned w = 0; w < o.concurrency; ++w) {
      auto done = [&](std::exception_ptr e) {
        if (e) escaped = "opener failed";
        if (--remaining == 0) watchdog.stop();
      };
      asio::co_spawn(io, opener(w), done);
    }
    io.run();
    io.restart();
  }
  run.open_seconds = std::chrono::duration<double>(steady::now() - t0).count();
  run.client_cpu_seconds = self_cpu_seconds() - cpu0;
  if (!run.unavailable.empty()) return;

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
  {
    unsigned remaining = o.concurrency;
    asio::co_spawn(io, watchdog.run(), [](std::exception_ptr) {});
    for (unsigned w = 0; w < o.concurrency; ++w) {
      auto done = [&](std::exception_ptr) {
        if (--remaining == 0) watchdog.stop();
      };
      asio::co_spawn(io, closer(w), done);
    }
    io.run();
  }
  clients.clear();
  held.clear();
}

bool wants(const options& o, const std::string& name) {
  if (o.skip_dovecot && name.starts_with("dovecot")) return false;
  return std::find(o.servers.begin(), o.servers.end(), name) != o.servers.end();
}

void print_row(std::string_view what, const std::vector<std::string>& cells) {
  std::string line = fmt::format("  {:<34}", what);
  for (const auto& c : cells) line += fmt::format(" {:>21}", c);
  fmt::print("{}\n", line);
}

int run_bench(const options& o, const char* argv0) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  install_cleanup_handlers();
  const std::uint64_t open_files = raise_open_file_limit();
  if (open_files < o.connections + 100) {
    fmt::print(stderr, "open file limit {} is too low for {} connections (raise ulimit -Hn)\n",
               open_files, o.connections);
    return 2;
  }
  const fs::path packmaild = find_build_binary(argv0, "packmaild", o.packmaild);
  const fs::path packmailctl = find_build_binary(argv0, "packmailctl", o.packmailctl);
  scratch_dir scratch("imap_idle_bench", o.keep);
  const std::string date = utc_now();
  fmt::print("imap_idle_bench: memory per idle IMAP connection, packmail vs Dovecot ({})\n", date);
  fmt::print("machine: {}\n", machine_line());
  fmt::print(
      "load: {} connections (LOGIN, SELECT INBOX, IDLE) over {} users with {} messages each, "
      "from {} loopback addresses, {} being opened at a time; measured after {:.0f} s idle\n",
      o.connections, o.users, o.messages_per_user, o.sources, o.concurrency, o.settle_s);
  fmt::print("memory: the server's whole process tree, after minus before, / connections\n");
  fmt::print("scratch: {}\n", scratch.path().string());
  fmt::print("machine busy before the run: {:.0f}% (anything else running distorts the figures)\n",
             machine_busy_over(std::chrono::seconds(1)));

  const bench_users users = create_users(packmailctl, scratch.path() / "users", o.users, o.scheme);
  const message_generator generator(o.seed);
  std::vector<idle_run> runs;

  if (wants(o, "packmail")) {
    idle_run run;
    run.name = "packmail";
    try {
      packmail_options po;
      po.packmaild = packmaild;
      po.dir = scratch.path() / "packmail";
      po.users_file = users.file;
      po.imap_port = free_port();
      po.max_connections = o.connections + 1000;
      packmail_server server(po);
      fmt::print(stderr, "packmail: seeding...\n");
      seed_imap(tcp::endpoint(asio::ip::address_v4::loopback(), po.imap_port), users,
                o.messages_per_user, generator);
      run_idle(o, users, po.imap_port, server.pid(), run);
      server.stop();
    } catch (const std::exception& e) {
      run.error = e.what();
      fmt::print(stderr, "packmail: FAILED: {}\n", run.error);
    }
    runs.push_back(std::move(run));
  }

  std::string dovecot_version;
  if (wants(o, "dovecot-default") || wants(o, "dovecot-performance")) {
    std::optional<system_user> mail_user;
    try {
      dovecot_version = ensure_dovecot_installed();
      mail_user = ensure_system_user("packmail-bench");
    } catch (const std::exception& e) {
      idle_run run;
      run.name = "dovecot";
      run.error = e.what();
      runs.push_back(std::move(run));
    }
    bool seeded = false;
    for (const auto mode : {dovecot_login_mode::standard, dovecot_login_mode::performance}) {
      const std::string name = std::string("dovecot-") + mode_name(mode);
      if (!mail_user || !wants(o, name)) continue;
      idle_run run;
      run.name = name;
      try {
        dovecot_options d;
        d.dir = scratch.path() / name;
        d.home_root = scratch.path() / "dovecot-homes";
        d.users_file = users.file;
        d.mode = mode;
        d.mail_user = *mail_user;
        d.imap_port = free_port();
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
      } catch (const std::exception& e) {
        run.error = e.what();
        fmt::print(stderr, "{}: FAILED: {}\n", name, run.error);
      }
      runs.push_back(std::move(run));
    }
  }

  // --- the table ---------------------------------------------------------------------
  fmt::print("\n");
  std::vector<std::string> header;
  for (const auto& r : runs) header.push_back(r.name);
  print_row("", header);
  const auto row = [&](std::string_view what, std::function<std::string(const idle_run&)> f) {
    std::vector<std::string> cells;
    for (const auto& r : runs) {
      cells.push_back(!r.error.empty() ? "error" : !r.unavailable.empty() ? "not available" : f(r));
    }
    print_row(what, cells);
  };
  const auto mib = [](double bytes) { return fmt::format("{:.1f} MiB", bytes / (1 << 20)); };
  row("connections idling (failed)",
      [](const idle_run& r) { return fmt::format("{} ({})", r.opened, r.failed); });
  row("time to open them", [](const idle_run& r) {
    return fmt::format("{:.1f} s ({:.0f}/s)", r.open_seconds,
                       r.opened / std::max(r.open_seconds, 1e-9));
  });
  row("processes before / after", [](const idle_run& r) {
    return fmt::format("{} / {}", r.before.processes, r.after.processes);
  });
  row("RSS before", [&](const idle_run& r) { return mib(r.before.rss_bytes); });
  row("RSS after", [&](const idle_run& r) { return mib(r.after.rss_bytes); });
  row("PSS before", [&](const idle_run& r) { return mib(r.before.pss_bytes); });
  row("PSS after", [&](const idle_run& r) { return mib(r.after.pss_bytes); });
  row("RSS per connection", [](const idle_run& r) {
    return fmt::format("{:.1f} KiB", r.per_connection_kib(&tree_memory::rss_bytes));
  });
  row("PSS per connection", [](const idle_run& r) {
    return fmt::format("{:.1f} KiB", r.per_connection_kib(&tree_memory::pss_bytes));
  });
  row("answered DONE after idling",
      [](const idle_run& r) { return fmt::format("{}", r.confirmed); });
  row("load generator CPU while opening", [](const idle_run& r) {
    return fmt::format("{:.0f}%", 100.0 * r.client_cpu_seconds / std::max(r.open_seconds, 1e-9));
  });
  for (const auto& r : runs) {
    if (!r.error.empty()) fmt::print("\n  {} FAILED: {}\n", r.name, r.error);
    if (!r.unavailable.empty()) fmt::print("\n  {}: not available: {}\n", r.name, r.unavailable);
    if (r.ok() && !r.first_error.empty()) {
      fmt::print("\n  {}: first error: {}\n", r.name, r.first_error);
    }
  }

  json out;
  out["bench"] = "imap_idle_bench";
  out["date"] = date;
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
    if (!r.unavailable.empty()) j["unavailable"] = r.unavailable;
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
  out["targets"] = {{"packmail_rss_per_connection_kib", "<= 64"}};
  out["ratios"] = measured ? ratios : json(nullptr);
  out["targets_met"] = measured ? json({{"packmail_rss_per_connection_kib", met}}) : json(nullptr);
  out["all_targets_met"] = measured ? json(met) : json(nullptr);
  if (o.keep) fmt::print("\n  scratch directory kept: {}\n", scratch.path().string());
  fmt::print("\n{}\n", out.dump());
  std::fflush(stdout);
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
  app.add_option("--scheme", o.scheme, "password scheme of the users (packmailctl --scheme)")
      ->check(CLI::IsMember({"SHA512-CRYPT", "ARGON2ID", "BLF-CRYPT", "PLAIN"}))
      ->capture_default_str();
  app.add_option("--servers", o.servers, "servers to run")
      ->delimiter(',')
      ->check(CLI::IsMember({"packmail", "dovecot-default", "dovecot-performance"}))
      ->capture_default_str();
  app.add_flag("--skip-dovecot", o.skip_dovecot, "run packmail only");
  app.add_option("--packmaild", o.packmaild, "packmaild binary (default: the build tree's)");
  app.add_option("--packmailctl", o.packmailctl, "packmailctl binary (default: the build tree's)");
  app.add_option("--sources", o.sources, "loopback source addresses 127.0.0.2... to spread over")
      ->check(CLI::Range(1u, 250u))
      ->capture_default_str();
  app.add_flag("--keep", o.keep, "keep the scratch directory (data, configs, logs)");
  app.add_option("--seed", o.seed, "message generator seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run_bench(o, argv[0]);
  } catch (const std::exception& e) {
    fmt::print(stderr, "imap_idle_bench: {}\n", e.what());
    return 1;
  }
}
