#include "common/comparison.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/measure.h"

namespace packmail::bench {

void add_server_options(CLI::App& app, comparison_options& o) {
  app.add_option("--scheme", o.scheme, "password scheme of the users (packmailctl --scheme)")
      ->check(CLI::IsMember({"SHA512-CRYPT", "ARGON2ID", "BLF-CRYPT", "PLAIN"}))
      ->capture_default_str();
  app.add_option("--servers", o.servers, "servers to run")
      ->delimiter(',')
      ->check(CLI::IsMember({"packmail", "dovecot-default", "dovecot-performance"}))
      ->capture_default_str();
}

void add_run_options(CLI::App& app, comparison_options& o) {
  app.add_flag("--skip-dovecot", o.skip_dovecot, "run packmail only");
  app.add_option("--packmaild", o.packmaild, "packmaild binary (default: the build tree's)");
  app.add_option("--packmailctl", o.packmailctl, "packmailctl binary (default: the build tree's)");
  app.add_option("--sources", o.sources, "loopback source addresses 127.0.0.2... to spread over")
      ->check(CLI::Range(1u, 250u))
      ->capture_default_str();
  app.add_flag("--keep", o.keep, "keep the scratch directory (data, configs, logs)");
  app.add_option("--seed", o.seed, "message generator seed")->capture_default_str();
}

bool wants_server(const std::vector<std::string>& servers, bool skip_dovecot,
                  std::string_view name) {
  if (skip_dovecot && name.starts_with("dovecot")) return false;
  return std::find(servers.begin(), servers.end(), name) != servers.end();
}

std::uint64_t prepare_process() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  install_cleanup_handlers();
  return raise_open_file_limit();
}

bench_setup::bench_setup(const char* argv0, std::string_view bench,
                         const std::string& packmaild_given, const std::string& packmailctl_given,
                         bool keep)
    : packmaild(find_build_binary(argv0, "packmaild", packmaild_given)),
      packmailctl(find_build_binary(argv0, "packmailctl", packmailctl_given)),
      scratch(bench, keep),
      date(utc_now()) {}

void print_header(std::string_view title, const bench_setup& setup,
                  const std::vector<std::string>& about, std::string_view scratch_note) {
  fmt::print("{} ({})\n", title, setup.date);
  fmt::print("machine: {}\n", machine_line());
  for (const auto& line : about) fmt::print("{}\n", line);
  fmt::print("scratch: {}{}\n", setup.scratch.path().string(), scratch_note);
  fmt::print("machine busy before the run: {:.0f}% (anything else running distorts the figures)\n",
             machine_busy_over(std::chrono::seconds(1)));
}

dovecot_setup prepare_dovecot() {
  dovecot_setup d;
  try {
    d.version = ensure_dovecot_installed();
    d.mail_user = ensure_system_user("packmail-bench");
  } catch (const std::exception& e) {
    d.error = e.what();
  }
  return d;
}

packmail_options packmail_for(const bench_setup& setup, const bench_users& users) {
  packmail_options po;
  po.packmaild = setup.packmaild;
  po.dir = setup.scratch.path() / "packmail";
  po.users_file = users.file;
  po.imap_port = free_port();
  return po;
}

dovecot_options dovecot_for(const bench_setup& setup, const std::string& name,
                            const std::string& homes, const bench_users& users,
                            const system_user& mail_user) {
  dovecot_options d;
  d.dir = setup.scratch.path() / name;
  d.home_root = setup.scratch.path() / homes;
  d.users_file = users.file;
  d.mail_user = mail_user;
  d.imap_port = free_port();
  return d;
}

void print_row(std::string_view what, const std::vector<std::string>& cells,
               std::size_t label_width, std::size_t cell_width) {
  std::string line = fmt::format("  {:<{}}", what, label_width);
  for (const auto& c : cells) line += fmt::format(" {:>{}}", c, cell_width);
  fmt::print("{}\n", line);
}

void print_closing(const nlohmann::ordered_json& out, const bench_setup& setup, bool keep) {
  if (keep) fmt::print("\n  scratch directory kept: {}\n", setup.scratch.path().string());
  fmt::print("\n{}\n", out.dump());
  std::fflush(stdout);
}

int run_main(std::string_view bench, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", bench, e.what());
    return 1;
  }
}

}  // namespace packmail::bench
