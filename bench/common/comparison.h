// The frame every benchmark that runs packmail against Dovecot shares
// (imap_idle_bench, lmtp_ingest_bench, and common/load_compare.h for
// imap_load_bench and pop3_load_bench): the options that choose the servers,
// the setup before the first server starts, the servers' usual options, the
// report's header, its table, and its closing line of JSON.
//
// Thread-safety: none; use from the benchmark's main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/servers.h"

namespace packmail::bench {

// The options of a run against packmail and Dovecot's two login modes.
struct comparison_options {
  std::string scheme = "SHA512-CRYPT";  // packmailctl --scheme of the users
  std::vector<std::string> servers = {"packmail", "dovecot-default", "dovecot-performance"};
  bool skip_dovecot = false;
  std::string packmaild, packmailctl;  // empty: the build tree's
  unsigned sources = 16;               // loopback source addresses 127.0.0.2...
  bool keep = false;                   // keep the scratch directory
  std::uint64_t seed = 1;              // message generator seed
};

// Adds --scheme and --servers to app.
void add_server_options(CLI::App& app, comparison_options& o);
// Adds --skip-dovecot, --packmaild, --packmailctl, --sources, --keep and
// --seed to app.
void add_run_options(CLI::App& app, comparison_options& o);

// Whether the server `name` runs: listed in `servers`, and not a Dovecot one
// ("dovecot-...") when skip_dovecot.
bool wants_server(const std::vector<std::string>& servers, bool skip_dovecot,
                  std::string_view name);

// Makes stdout line-buffered even into a pipe (so the report and the
// progress on stderr interleave in order in a tee'd log), installs the
// cleanup handlers and raises the open file limit; returns that limit.
std::uint64_t prepare_process();

// What a run has before its first server starts.
struct bench_setup {
  // Finds packmaild and packmailctl (the build tree's unless given) and
  // makes the scratch directory /var/tmp/<bench>.XXXXXX (kept when `keep`).
  // Throws when a binary is missing or the directory cannot be made.
  bench_setup(const char* argv0, std::string_view bench, const std::string& packmaild_given,
              const std::string& packmailctl_given, bool keep);

  fs::path packmaild;
  fs::path packmailctl;
  scratch_dir scratch;
  std::string date;  // utc_now() when set up
};

// The report's header on stdout: "<title> (<date>)", the machine, the
// `about` lines as given, "scratch: <path><scratch_note>", and how busy the
// machine is (sampled for a second, so it says what else runs).
void print_header(std::string_view title, const bench_setup& setup,
                  const std::vector<std::string>& about, std::string_view scratch_note = {});

// Dovecot installed (when missing) and the system user owning its mail.
struct dovecot_setup {
  std::string version;                   // `dovecot --version`; empty when not installed
  std::optional<system_user> mail_user;  // nullopt: `error` says why
  std::string error;
};
// Never throws: a failure is in `error`.
dovecot_setup prepare_dovecot();

// packmaild from the setup's binary, its data under <scratch>/packmail,
// reading the users' passwd-file, IMAP on a free port; other listeners off.
packmail_options packmail_for(const bench_setup& setup, const bench_users& users);

// Dovecot with its files under <scratch>/<name> and the users' homes under
// <scratch>/<homes>, reading the users' passwd-file, its mail owned by
// `mail_user`, IMAP on a free port; other listeners off, other settings at
// dovecot_options' defaults.
dovecot_options dovecot_for(const bench_setup& setup, const std::string& name,
                            const std::string& homes, const bench_users& users,
                            const system_user& mail_user);

// One row of a results table: two blanks, `what` left-aligned in
// label_width, then each cell right-aligned in cell_width after a blank.
void print_row(std::string_view what, const std::vector<std::string>& cells,
               std::size_t label_width, std::size_t cell_width);

// The results table of runs that each carry `name` and `error` (the run
// failed): a column per run.
template <class Run>
class results_table {
 public:
  // Prints the header row: the runs' names.
  results_table(const std::vector<Run>& runs, std::size_t label_width, std::size_t cell_width)
      : runs_(runs), label_width_(label_width), cell_width_(cell_width) {
    std::vector<std::string> names;
    for (const auto& r : runs_) names.push_back(r.name);
    print_row("", names, label_width_, cell_width_);
  }

  // Prints a row: f(run) for a run with figures, else "error".
  void row(std::string_view what, const std::function<std::string(const Run&)>& f) const {
    std::vector<std::string> cells;
    for (const auto& r : runs_) cells.push_back(!r.error.empty() ? "error" : f(r));
    print_row(what, cells, label_width_, cell_width_);
  }

 private:
  const std::vector<Run>& runs_;
  std::size_t label_width_;
  std::size_t cell_width_;
};

// Calls body(); when it throws, stores the exception's text in `error` and
// says "<name>: <failed> <text>" on stderr.
template <class Body>
void run_recording_failure(std::string_view name, std::string& error, Body&& body,
                           std::string_view failed = "FAILED:") {
  try {
    body();
  } catch (const std::exception& e) {
    error = e.what();
    fmt::print(stderr, "{}: {} {}\n", name, failed, error);
  }
}

// Appends to `runs` a run named `name` that body(run) filled in; when body
// throws, the run keeps what it had and the exception's text as its error
// (run_recording_failure). Run has `name` and `error`.
template <class Run, class Body>
void add_run(std::vector<Run>& runs, std::string name, Body&& body) {
  Run run;
  run.name = std::move(name);
  run_recording_failure(run.name, run.error, [&] { body(run); });
  runs.push_back(std::move(run));
}

// Appends to `runs` a run named `name` that failed before it started.
template <class Run>
void add_failed_run(std::vector<Run>& runs, std::string name, std::string error) {
  Run run;
  run.name = std::move(name);
  run.error = std::move(error);
  runs.push_back(std::move(run));
}

// The report's end on stdout: where the scratch directory was kept (when
// `keep`), then `out` on one line; flushes stdout.
void print_closing(const nlohmann::ordered_json& out, const bench_setup& setup, bool keep);

// Runs the benchmark body; an exception escaping it is reported as
// "<bench>: <text>" on stderr and exit code 1.
int run_main(std::string_view bench, const std::function<int()>& body);

}  // namespace packmail::bench
