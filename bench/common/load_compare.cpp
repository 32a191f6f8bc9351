#include "common/load_compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

namespace packmail::bench {

namespace {

using json = nlohmann::ordered_json;

struct server_run {
  std::string name;    // "packmail", "dovecot-default", "dovecot-performance"
  load_result result;  // closed loop
  load_result paced;   // paced at the common rate
  std::string error;   // the closed-loop run failed
  std::string paced_error;
  json extra;  // seeding time
  bool paced_ran = false;
  bool ok() const { return error.empty(); }
};

// The results table's columns.
constexpr std::size_t k_label_width = 32;
constexpr std::size_t k_cell_width = 21;

std::string cell_of(const server_run& run, const std::function<std::string(const load_result&)>& f,
                    bool paced) {
  if (!run.error.empty()) return "error";
  return f(paced ? run.paced : run.result);
}

}  // namespace

void add_load_compare_options(CLI::App& app, load_compare_options& o) {
  app.add_option("--clients", o.clients, "concurrent clients")
      ->check(CLI::Range(1u, 10000u))
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds measured per server")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "seconds of load before measuring")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--users", o.users, "users (0: 2 x clients; at least --clients)")
      ->capture_default_str();
  app.add_option("--messages-per-user", o.messages_per_user, "messages seeded per INBOX")
      ->check(CLI::Range(10u, 100000u))
      ->capture_default_str();
  add_server_options(app, o);
  app.add_option("--paced-fraction", o.paced_fraction,
                 "paced phase rate, as a fraction of the slowest server's closed-loop rate (0: no "
                 "paced phase)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  add_run_options(app, o);
}

int run_load_compare(const load_protocol& p, const load_compare_options& options,
                     const char* argv0) {
  const std::uint64_t open_files = prepare_process();
  load_compare_options o = options;
  if (o.users == 0) o.users = 2 * o.clients;
  o.users = std::max(o.users, o.clients);
  const bench_setup setup(argv0, p.bench, o.packmaild, o.packmailctl, o.keep);
  print_header(
      fmt::format("{}: packmail vs Dovecot", p.bench), setup,
      {fmt::format("load: {}", p.title),
       fmt::format(
           "      {} clients (one io_context thread), {} users ({} seeded messages each), from {} "
           "loopback addresses; per server {:.0f} s warm-up + {:.0f} s measured in a closed "
           "loop, then the same paced at {:.0f}% of the slowest server's closed-loop rate",
           o.clients, o.users, o.messages_per_user, o.sources, o.warmup_s, o.duration_s,
           100 * o.paced_fraction),
       fmt::format("passwords: {} for every user, verified by both servers on every login (no "
                   "auth cache on either)",
                   o.scheme)});

  const bench_users users =
      create_users(setup.packmailctl, setup.scratch.path() / "users", o.users, o.scheme);
  const message_generator generator(o.seed);
  const session_function session = p.make_session(users, o.clients);

  load_options lo;
  lo.clients = o.clients;
  lo.warmup = std::chrono::milliseconds(static_cast<long>(o.warmup_s * 1000));
  lo.duration = std::chrono::milliseconds(static_cast<long>(o.duration_s * 1000));
  lo.sources = loopback_sources(o.sources);

  std::vector<server_run> runs;
  for (const char* name : {"packmail", "dovecot-default", "dovecot-performance"}) {
    if (wants_server(o.servers, o.skip_dovecot, name))
      runs.push_back(server_run{name, {}, {}, {}, {}, json::object()});
  }

  // Dovecot's prerequisites, once.
  dovecot_setup dovecot;
  if (std::any_of(runs.begin(), runs.end(),
                  [](const server_run& r) { return r.name.starts_with("dovecot"); })) {
    dovecot = prepare_dovecot();
  }

  // Starts the run's server, calls body(imap port, port under load, pid),
  // stops it. Dovecot's two modes share one mail directory; packmail keeps
  // its data directory across restarts.
  const auto with_server =
      [&](const server_run& run,
          const std::function<void(std::uint16_t, std::uint16_t, pid_t)>& body) {
        if (run.name == "packmail") {
          packmail_options po = packmail_for(setup, users);
          po.pop3_port = p.protocol == "pop3" ? free_port() : 0;
          packmail_server server(po);
          body(po.imap_port, p.protocol == "pop3" ? po.pop3_port : po.imap_port, server.pid());
          server.stop();
          return;
        }
        if (!dovecot.mail_user) throw std::runtime_error(dovecot.error);
        dovecot_options d =
            dovecot_for(setup, run.name, "dovecot-homes", users, *dovecot.mail_user);
        d.mode = run.name == "dovecot-default" ? dovecot_login_mode::standard
                                               : dovecot_login_mode::performance;
        d.pop3_port = p.protocol == "pop3" ? free_port() : 0;
        d.max_connections = std::max(1000u, 2 * o.clients);
        dovecot_server server(d);
        body(d.imap_port, p.protocol == "pop3" ? d.pop3_port : d.imap_port, server.pid());
        server.stop();
      };

  // Phase 1: the closed loop, each server's maximum rate.
  bool dovecot_seeded = false;
  for (auto& run : runs) {
    run_recording_failure(run.name, run.error, [&] {
      const auto body = [&](std::uint16_t imap_port, std::uint16_t load_port, pid_t pid) {
        const bool seed = run.name == "packmail" || !dovecot_seeded;
        if (seed) {
          fmt::print(stderr, "{}: seeding {} x {} messages over IMAP...\n", run.name, o.users,
                     o.messages_per_user);
          const auto t0 = std::chrono::steady_clock::now();
          seed_imap(tcp::endpoint(asio::ip::address_v4::loopback(), imap_port), users,
                    o.messages_per_user, generator);
          run.extra["seed_seconds"] =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (run.name != "packmail") dovecot_seeded = true;
        }
        fmt::print(stderr, "{}: closed loop, {} clients for {:.0f}+{:.0f} s...\n", run.name,
                   o.clients, o.warmup_s, o.duration_s);
        lo.server = tcp::endpoint(asio::ip::address_v4::loopback(), load_port);
        lo.server_pid = pid;
        lo.sessions_per_second = 0;
        run.result = run_closed_loop(lo, p.step_names, p.greet, session);
        fmt::print(stderr, "{}: {:.0f} sessions/s, {} failed\n", run.name,
                   run.result.sessions_per_second(), run.result.errors);
      };
      with_server(run, body);
    });
  }

  // Phase 2: every server at the same paced rate, for latency at equal load.
  double paced_rate = 0;
  std::size_t ok_runs = 0;
  for (const auto& r : runs) {
    if (!r.ok()) continue;
    ++ok_runs;
    const double rate = o.paced_fraction * r.result.sessions_per_second();
    paced_rate = paced_rate == 0 ? rate : std::min(paced_rate, rate);
  }
  // Only packmail's latency against Dovecot's is a target: without packmail
  // the paced phase would measure nothing the report uses.
  bool packmail_ok = false;
  for (const auto& r : runs) packmail_ok = packmail_ok || (r.name == "packmail" && r.ok());
  const bool run_paced = packmail_ok && ok_runs >= 2 && paced_rate > 0;
  if (run_paced) {
    for (auto& run : runs) {
      if (!run.ok()) continue;
      run_recording_failure(
          run.name, run.paced_error,
          [&] {
            const auto body = [&](std::uint16_t, std::uint16_t load_port, pid_t pid) {
              fmt::print(stderr, "{}: paced at {:.0f} sessions/s for {:.0f}+{:.0f} s...\n",
                         run.name, paced_rate, o.warmup_s, o.duration_s);
              lo.server = tcp::endpoint(asio::ip::address_v4::loopback(), load_port);
              lo.server_pid = pid;
              lo.sessions_per_second = paced_rate;
              run.paced = run_closed_loop(lo, p.step_names, p.greet, session);
            };
            with_server(run, body);
            run.paced_ran = true;
          },
          "paced run FAILED:");
    }
  }

  // --- the table ---------------------------------------------------------------------
  fmt::print("\n");
  std::vector<std::string> header;
  for (const auto& r : runs) header.push_back(r.name);
  print_row("", header, k_label_width, k_cell_width);
  const auto row = [&](std::string_view what, std::function<std::string(const load_result&)> f,
                       bool paced = false) {
    std::vector<std::string> cells;
    for (const auto& r : runs) {
      if (paced && !r.paced_ran) {
        cells.push_back(r.paced_error.empty() ? "-" : "error");
      } else {
        cells.push_back(cell_of(
            r, [&](const load_result& x) { return f(x); }, paced));
      }
    }
    print_row(what, cells, k_label_width, k_cell_width);
  };
  const auto latency = [](const latency_recorder& l) {
    return fmt::format("{:.2f} / {:.2f}", l.percentile_ms(50), l.percentile_ms(99));
  };
  fmt::print("  closed loop: {} clients, each starting its next session at once\n", o.clients);
  row("sessions/s", [](const load_result& r) { return with_commas(r.sessions_per_second()); });
  row("commands/s", [](const load_result& r) { return with_commas(r.commands_per_second()); });
  row("sessions measured (failed)",
      [](const load_result& r) { return fmt::format("{} ({})", r.sessions, r.errors); });
  row("command latency p50 / p99 ms",
      [&](const load_result& r) { return latency(r.commands_latency); });
  row("session latency p50 / p99 ms",
      [&](const load_result& r) { return latency(r.session_latency); });
  for (std::size_t i = 0; i < p.step_names.size(); ++i) {
    row(fmt::format("  {} p50 / p99 ms", p.step_names[i]),
        [&, i](const load_result& r) { return latency(r.steps[i]); });
  }
  row("server CPU ms / session", [](const load_result& r) {
    return fmt::format("{:.2f}", r.sessions ? 1000.0 * r.server_cpu_seconds / r.sessions : 0.0);
  });
  row("load generator CPU (1 core)",
      [](const load_result& r) { return fmt::format("{:.0f}%", 100.0 * r.client_core_share()); });
  row("machine busy",
      [](const load_result& r) { return fmt::format("{:.0f}%", r.machine_busy_percent); });
  if (run_paced) {
    fmt::print(
        "\n  paced: {:.0f} sessions/s for every server ({:.0f}% of the slowest one's closed-loop "
        "rate), at most {} at once; latency at equal load\n",
        paced_rate, 100 * o.paced_fraction, o.clients);
    row(
        "sessions/s", [](const load_result& r) { return with_commas(r.sessions_per_second()); },
        true);
    row(
        "sessions started late (> 10 ms)",
        [](const load_result& r) { return fmt::format("{}", r.late_sessions); }, true);
    row(
        "command latency p50 / p99 ms",
        [&](const load_result& r) { return latency(r.commands_latency); }, true);
    row(
        "session latency p50 / p99 ms",
        [&](const load_result& r) { return latency(r.session_latency); }, true);
    for (std::size_t i = 0; i < p.step_names.size(); ++i) {
      row(
          fmt::format("  {} p50 / p99 ms", p.step_names[i]),
          [&, i](const load_result& r) { return latency(r.steps[i]); }, true);
    }
    row(
        "server CPU ms / session",
        [](const load_result& r) {
          return fmt::format("{:.2f}",
                             r.sessions ? 1000.0 * r.server_cpu_seconds / r.sessions : 0.0);
        },
        true);
    row(
        "machine busy",
        [](const load_result& r) { return fmt::format("{:.0f}%", r.machine_busy_percent); }, true);
  }
  for (const auto& r : runs) {
    if (!r.error.empty()) fmt::print("\n  {} FAILED: {}\n", r.name, r.error);
    if (!r.paced_error.empty()) fmt::print("\n  {} paced run FAILED: {}\n", r.name, r.paced_error);
    for (const load_result* x : {&r.result, &r.paced}) {
      if (r.error.empty() && x->errors > 0) {
        fmt::print("\n  {}: {} failed sessions; first: {}\n", r.name, x->errors, x->first_error);
      }
    }
  }

  // --- targets and JSON ---------------------------------------------------------------
  json out;
  out["bench"] = p.bench;
  out["date"] = setup.date;
  out["machine"] = machine_json();
  out["clients"] = o.clients;
  out["users"] = o.users;
  out["messages_per_user"] = o.messages_per_user;
  out["warmup_s"] = o.warmup_s;
  out["duration_s"] = o.duration_s;
  out["password_scheme"] = o.scheme;
  out["open_files_limit"] = open_files;
  if (!dovecot.version.empty()) out["dovecot_version"] = dovecot.version;
  out["paced_sessions_per_second"] = run_paced ? json(paced_rate) : json(nullptr);
  const server_run* pm = nullptr;
  for (const auto& r : runs) {
    json j = json::object();
    if (r.ok()) j["closed_loop"] = r.result.to_json();
    if (r.paced_ran) j["paced"] = r.paced.to_json();
    if (!r.error.empty()) j["error"] = r.error;
    if (!r.paced_error.empty()) j["paced_error"] = r.paced_error;
    for (const auto& [k, v] : r.extra.items()) j[k] = v;
    out["servers"][r.name] = j;
    if (r.name == "packmail") pm = &r;
  }
  // The p99 target compares latency at equal load (the paced phase): in the
  // closed loop each server's latency mostly reflects its own queue (Little's
  // law: clients / rate), and Dovecot's default mode queues its clients in
  // connect, before the commands.
  fmt::print(
      "\n  targets: packmail sessions/s >= {:.0f}x Dovecot's (closed loop); command p99 no worse "
      "({})\n",
      p.target_sessions_ratio, run_paced ? "paced, equal load" : "closed loop: no paced phase ran");
  json ratios = json::object(), met = json::object();
  bool all_met = pm && pm->ok();
  bool compared = false;
  for (const auto& r : runs) {
    if (!r.name.starts_with("dovecot") || !pm || !pm->ok() || !r.ok()) continue;
    compared = true;
    const auto ratio = [](double a, double b) { return a / std::max(b, 1e-9); };
    const bool paced = pm->paced_ran && r.paced_ran;
    const load_result& pm_latency = paced ? pm->paced : pm->result;
    const load_result& d_latency = paced ? r.paced : r.result;
    const double sessions = ratio(pm->result.sessions_per_second(), r.result.sessions_per_second());
    const double p99 = ratio(pm_latency.commands_latency.percentile_ms(99),
                             d_latency.commands_latency.percentile_ms(99));
    const double session_p99 = ratio(pm_latency.session_latency.percentile_ms(99),
                                     d_latency.session_latency.percentile_ms(99));
    const bool met_sessions = sessions >= p.target_sessions_ratio;
    const bool met_p99 = p99 <= 1.0;
    all_met = all_met && met_sessions && met_p99;
    fmt::print(
        "  vs {:<21} sessions/s {:>6.2f}x (>= {:.0f}x) {}   command p99 {:>5.2f}x (<= 1x) {}   "
        "(session p99 {:.2f}x)\n",
        r.name, sessions, p.target_sessions_ratio, met_sessions ? "PASS" : "MISS", p99,
        met_p99 ? "PASS" : "MISS", session_p99);
    ratios[r.name] = {
        {"sessions_per_second", sessions},
        {"command_p99", p99},
        {"session_p99", session_p99},
        {"latency_phase", paced ? "paced" : "closed_loop"},
        {"closed_loop_command_p99", ratio(pm->result.commands_latency.percentile_ms(99),
                                          r.result.commands_latency.percentile_ms(99))},
        {"closed_loop_session_p99", ratio(pm->result.session_latency.percentile_ms(99),
                                          r.result.session_latency.percentile_ms(99))}};
    met[r.name] = {{"sessions_per_second", met_sessions}, {"command_p99", met_p99}};
  }
  if (!compared) fmt::print("  no ratios: packmail and at least one Dovecot mode must both run\n");
  out["targets"] = {{"sessions_per_second_ratio", fmt::format(">= {}", p.target_sessions_ratio)},
                    {"command_p99_ratio", "<= 1 (at equal paced load)"}};
  out["ratios"] = compared ? ratios : json(nullptr);
  out["targets_met"] = compared ? met : json(nullptr);
  out["all_targets_met"] = compared ? json(all_met) : json(nullptr);
  print_closing(out, setup, o.keep);

  bool failed = false;
  for (const auto& r : runs) failed = failed || !r.error.empty() || !r.paced_error.empty();
  return failed ? 1 : 0;
}

int load_compare_main(int argc, char** argv, const load_protocol& protocol,
                      const std::string& description) {
  load_compare_options o;
  CLI::App app{description};
  add_load_compare_options(app, o);
  CLI11_PARSE(app, argc, argv);
  return run_main(protocol.bench, [&] { return run_load_compare(protocol, o, argv[0]); });
}

std::size_t session_user(unsigned client, std::uint64_t session, unsigned clients,
                         const bench_users& users) {
  const unsigned per_client = std::max<unsigned>(1, users.names.size() / clients);
  return (client + clients * (session % per_client)) % users.names.size();
}

}  // namespace packmail::bench
