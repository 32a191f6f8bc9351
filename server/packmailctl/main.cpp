// packmailctl: administration of packmail. This version manages the
// passwd-file; packmaild picks up every change without a restart.
//
// Exit codes: 0 success, 1 error, 2 usage, 3 the user exists (add) or does not
// exist (del, passwd).
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "users/passwd_edit.h"
#include "users/passwd_file.h"
#include "users/password.h"

namespace {

using namespace packmail::server;

constexpr int k_exit_ok = 0;
constexpr int k_exit_error = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_conflict = 3;

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? k_exit_ok : k_exit_usage;
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
