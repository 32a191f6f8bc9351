// packmailctl: administration of packmail: the passwd-file (packmaild picks
// up every change without a restart) and replication (through the admin API,
// or offline for promote).
//
// Exit codes: 0 success, 1 error (including an unreachable server), 2 usage,
// 3 conflict: the user exists (add) or does not exist (del, passwd), or the
// node cannot be promoted (already primary); 4 verify found differences.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "data_dir/data_dir.h"
#include "packmail/replication/replication.h"
#include "packmailctl/admin_client.h"
#include "users/passwd_edit.h"
#include "users/passwd_file.h"
#include "users/password.h"

namespace {

using namespace packmail::server;

constexpr int k_exit_ok = 0;
constexpr int k_exit_error = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_conflict = 3;
constexpr int k_exit_differences = 4;

class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string strip_line_end(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

// Reads one line from the terminal with echo off. Echo goes off before the
// prompt is shown, so nothing typed after the prompt is ever echoed (and
// typeahead from before it is discarded).
std::string prompt_hidden(const char* prompt) {
  termios old_mode{};
  if (::tcgetattr(STDIN_FILENO, &old_mode) != 0) throw std::runtime_error("cannot read terminal");
  termios quiet = old_mode;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
    throw std::runtime_error("cannot turn terminal echo off");
  }
  std::fputs(prompt, stderr);
  std::fflush(stderr);
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  if (!got) throw std::runtime_error("no password entered");
  return strip_line_end(line);
}

std::string read_password(bool from_stdin) {
  std::string password;
  if (from_stdin) {
    if (!std::getline(std::cin, password)) throw std::runtime_error("no password on stdin");
    password = strip_line_end(password);
  } else {
    if (!::isatty(STDIN_FILENO)) {
      throw usage_error("stdin is not a terminal; pipe the password with --password-stdin");
    }
    password = prompt_hidden("Password: ");
    if (prompt_hidden("Retype password: ") != password) {
      throw std::runtime_error("the passwords do not match");
    }
  }
  if (password.empty()) throw std::runtime_error("empty password");
  if (password.find('\0') != std::string::npos) {
    throw std::runtime_error("password contains a NUL byte");
  }
  return password;
}

password_scheme scheme_from(const std::string& name) {
  const auto scheme = parse_scheme_name(name);
  if (!scheme || *scheme == password_scheme::crypt) {
    throw usage_error("unknown --scheme '" + name +
                      "' (use ARGON2ID, SHA512-CRYPT, BLF-CRYPT or PLAIN)");
  }
  if (*scheme == password_scheme::plain) {
    std::fputs("packmailctl: warning: PLAIN stores the password in clear text\n", stderr);
  }
  return *scheme;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  return v.dump();
}

// "42% of 1.2 GiB at 95.0 MiB/s, ETA 8 s"
std::string progress(const nlohmann::json& b) {
  const double total = b.value("bytes_total", 0.0);
  const double done = b.value("bytes_done", 0.0);
  std::string s = std::to_string(total > 0 ? static_cast<int>(100 * done / total) : 0) + "% of " +
                  human_bytes(total) + " at " + human_bytes(b.value("rate_bytes_per_second", 0.0)) +
                  "/s";
  if (b.contains("eta_seconds") && b["eta_seconds"].is_number()) {
    s += ", ETA " + std::to_string(static_cast<long>(b["eta_seconds"].get<double>())) + " s";
  }
  return s;
}

void print_row(const std::string& key, const std::string& value) {
  std::printf("%-18s %s\n", key.c_str(), value.c_str());
}

void print_status(const nlohmann::json& s) {
  print_row("role", text(s.value("role", nlohmann::json("?"))));
  for (const char* key : {"state", "primary", "mode", "listen", "epoch", "sequence",
                          "primary_sequence", "bootstraps", "last_error"}) {
    if (s.contains(key)) print_row(key, text(s[key]));
  }
  if (s.contains("lag")) {
    const auto& lag = s["lag"];
    std::string l = text(lag.value("sequences", nlohmann::json(0))) + " sequences, " +
                    text(lag.value("seconds", nlohmann::json(0.0))) + " s";
    print_row("lag", l);
  }
  if (s.contains("bootstrap")) print_row("bootstrap", progress(s["bootstrap"]));
  if (s.contains("mirrors")) {
    if (s["mirrors"].empty()) print_row("mirrors", "none connected");
    for (const auto& m : s["mirrors"]) {
      std::string line = text(m["state"]) + (m.value("in_sync", false) ? ", in sync" : "") +
                         ", acked " + text(m["acked_sequence"]);
      const auto& lag = m["lag"];
      line += "; lag " + text(lag["sequences"]) + " sequences, " + text(lag["batches"]) +
              " batches, " + human_bytes(lag.value("bytes", 0.0)) + ", " + text(lag["seconds"]) +
              " s";
      if (m.contains("bootstrap")) line += "; bootstrap " + progress(m["bootstrap"]);
      print_row("mirror " + text(m["peer"]), line);
    }
  }
}

// Throws with the server's message when the status is not 2xx.
nlohmann::json expect_ok(const admin_response& r, int& exit_code) {
  if (r.status >= 200 && r.status < 300) return r.body;
  const std::string message =
      r.body.is_object() && r.body.contains("error") ? text(r.body["error"]) : "HTTP error";
  exit_code = r.status == 409 ? k_exit_conflict : k_exit_error;
  throw std::runtime_error(message + " (HTTP " + std::to_string(r.status) + ")");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"packmailctl: packmail administration"};
  app.set_version_flag("--version", PACKMAIL_VERSION);
  app.require_subcommand(1);
  std::string users_file, data_dir = "packmail-data";
  auto* users_opt = app.add_option("--users", users_file, "passwd-file to edit");
  auto* data_opt = app.add_option("--data-dir", data_dir,
                                  "data directory whose users file to edit (default "
                                  "./packmail-data)");
  users_opt->excludes(data_opt);

  auto* user = app.add_subcommand("user", "manage the users (passwd-file)");
  user->require_subcommand(1);
  user->fallthrough();

  std::string name, scheme_name_opt = "ARGON2ID";
  bool password_stdin = false;
  auto* add = user->add_subcommand("add", "add a user");
  auto* passwd = user->add_subcommand("passwd", "set a user's password");
  auto* del = user->add_subcommand("del", "delete a user");
  auto* list = user->add_subcommand("list", "list the users, one per line");
  for (auto* cmd : {add, passwd, del}) {
    cmd->add_option("name", name, "user name")->required();
    cmd->fallthrough();
  }
  list->fallthrough();
  for (auto* cmd : {add, passwd}) {
    cmd->add_option("--scheme", scheme_name_opt,
                    "ARGON2ID (default), SHA512-CRYPT, BLF-CRYPT or PLAIN (tests only)");
    cmd->add_flag("--password-stdin", password_stdin,
                  "read the password from the first line of stdin instead of prompting");
  }

  std::string admin_address = "127.0.0.1:8143", token_file;
  bool as_json = false, offline = false;
  app.add_option("--admin", admin_address, "packmaild's admin listener (default 127.0.0.1:8143)");
  app.add_option("--token-file", token_file,
                 "the admin API token (default <data-dir>/admin.token)");
  auto* repl = app.add_subcommand("repl", "replication");
  repl->require_subcommand(1);
  repl->fallthrough();
  auto* repl_status = repl->add_subcommand("status", "role, sequences, lag, bootstrap progress");
  auto* promote = app.add_subcommand("promote", "make this mirror the primary (new epoch)");
  promote->add_flag("--offline", offline,
                    "promote the stopped mirror's database in --data-dir directly");
  auto* verify = app.add_subcommand("verify",
                                    "compare per-mailbox digests of primary and mirror at one "
                                    "sequence (ask the primary)");
  for (auto* cmd : {repl_status, promote, verify}) {
    cmd->add_flag("--json", as_json, "print the server's JSON");
    cmd->fallthrough();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? k_exit_ok : k_exit_usage;
  }

  if (repl_status->parsed() || promote->parsed() || verify->parsed()) {
    int exit_code = k_exit_ok;
    try {
      if (promote->parsed() && offline) {
        // The data directory's lock proves no packmaild runs on it.
        data_dir_lock lock(data_dir);
        auto epoch = packmail::replication::promote_offline(
            {.path = std::filesystem::path(data_dir) / "shards" / "default"});
        if (!epoch.ok()) {
          exit_code = k_exit_conflict;
          throw std::runtime_error(epoch.error().message());
        }
        std::printf(
            "promoted %s: primary of epoch %u; start packmaild without "
            "--replicate-from\n",
            data_dir.c_str(), static_cast<unsigned>(epoch.value()));
        return k_exit_ok;
      }
      const std::string token =
          secret_file(token_file.empty() ? std::filesystem::path(data_dir) / "admin.token"
                                         : std::filesystem::path(token_file),
                      false);
      const char* method = repl_status->parsed() ? "GET" : "POST";
      const char* target = repl_status->parsed() ? "/api/replication"
                           : promote->parsed()   ? "/api/replication/promote"
                                                 : "/api/replication/verify";
      const auto body = expect_ok(admin_request(admin_address, token, method, target), exit_code);
      if (as_json) {
        std::printf("%s\n", body.dump(2).c_str());
      } else if (repl_status->parsed()) {
        print_status(body);
      } else if (promote->parsed()) {
        std::printf("promoted: primary of epoch %s\n", text(body["epoch"]).c_str());
      } else {
        const bool equal = body.value("equal", false);
        std::printf("%s: %s mailboxes at sequence %s against mirror %s\n",
                    equal ? "equal" : "DIFFERENT", text(body["mailboxes"]).c_str(),
                    text(body["sequence"]).c_str(), text(body["mirror"]).c_str());
        for (const auto& d : body["differences"]) {
          std::printf("  %s: %s\n", text(d["mailbox"]).c_str(), text(d["problem"]).c_str());
        }
      }
      if (verify->parsed() && !body.value("equal", false)) return k_exit_differences;
      return k_exit_ok;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "packmailctl: %s\n", e.what());
      return exit_code == k_exit_ok ? k_exit_error : exit_code;
    }
  }

  const std::filesystem::path file = users_file.empty() ? std::filesystem::path(data_dir) / "users"
                                                        : std::filesystem::path(users_file);
  try {
    if (list->parsed()) {
      const auto parsed = parse_passwd_file(read_text_file(file));
      for (const auto& error : parsed.errors) {
        std::fprintf(stderr, "packmailctl: %s: %s\n", file.c_str(), error.message.c_str());
      }
      for (const auto& entry : parsed.table.entries()) std::printf("%s\n", entry.user.c_str());
      return parsed.ok() ? k_exit_ok : k_exit_error;
    }
    if (del->parsed()) {
      edit_passwd_file(file, [&](std::string_view text) { return passwd_remove_user(text, name); });
      std::printf("deleted user %s\n", name.c_str());
      return k_exit_ok;
    }
    const auto scheme = scheme_from(scheme_name_opt);
    if (auto why = check_user_name(name); !why.empty()) {
      throw usage_error("invalid user name '" + name + "': " + why);
    }
    // Fail before prompting when the edit cannot succeed.
    {
      const auto parsed = parse_passwd_file(read_text_file(file));
      if (!parsed.ok()) {
        throw std::runtime_error(file.string() + ": " + parsed.errors.front().message);
      }
      const bool exists = parsed.table.find(name) != nullptr;
      if (add->parsed() && exists) throw user_conflict("user exists: " + name);
      if (passwd->parsed() && !exists) throw user_conflict("no such user: " + name);
    }
    const std::string field = hash_password(scheme, read_password(password_stdin));
    if (add->parsed()) {
      edit_passwd_file(file,
                       [&](std::string_view text) { return passwd_add_user(text, name, field); });
      std::printf("added user %s\n", name.c_str());
    } else {
      edit_passwd_file(
          file, [&](std::string_view text) { return passwd_set_password(text, name, field); });
      std::printf("changed the password of %s\n", name.c_str());
    }
    return k_exit_ok;
  } catch (const user_conflict& e) {
    std::fprintf(stderr, "packmailctl: %s\n", e.what());
    return k_exit_conflict;
  } catch (const usage_error& e) {
    std::fprintf(stderr, "packmailctl: %s\n", e.what());
    return k_exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "packmailctl: %s\n", e.what());
    return k_exit_error;
  }
}
