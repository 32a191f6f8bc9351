#include "users/passwd_edit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "users/passwd_file.h"

namespace packmail::server {
namespace {

std::runtime_error io_error(const std::string& what, const std::filesystem::path& path) {
  return std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

class unique_fd {
 public:
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

void check_parses(std::string_view text) {
  const auto parsed = parse_passwd_file(text);
  if (!parsed.ok()) {
    throw std::runtime_error("users file does not parse, fix it first: " +
                             parsed.errors.front().message);
  }
}

// The file's lines, each with its '\n' (the last may lack one).
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto len = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  return lines;
}

// Index in split_lines() of the user's line; the parser's line numbers are
// 1-based over the same '\n' split.
std::size_t user_line_index(std::string_view text, std::string_view user) {
  const auto parsed = parse_passwd_file(text);
  const auto* entry = parsed.table.find(user);
  if (entry == nullptr) throw user_conflict("no such user: " + std::string(user));
  return entry->line - 1;
}

}  // namespace

std::string passwd_add_user(std::string_view text, std::string_view user,
                            std::string_view password_field) {
  check_parses(text);
  if (auto why = check_user_name(user); !why.empty()) {
    throw std::runtime_error("invalid user name '" + std::string(user) + "': " + why);
  }
  const auto parsed = parse_passwd_file(text);
  if (const auto* e = parsed.table.find(user)) throw user_conflict("user exists: " + e->user);
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += std::string(user) + ":" + std::string(password_field) + "\n";
  check_parses(out);
  return out;
}

std::string passwd_remove_user(std::string_view text, std::string_view user) {
  check_parses(text);
  const auto index = user_line_index(text, user);
  std::string out;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != index) out += lines[i];
  }
  return out;
}

std::string passwd_set_password(std::string_view text, std::string_view user,
                                std::string_view password_field) {
  check_parses(text);
  const auto index = user_line_index(text, user);
  const auto lines = split_lines(text);
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != index) {
      out += lines[i];
      continue;
    }
    const std::string_view line = lines[i];
    const auto first = line.find(':');  // exists: the line parsed
    const auto second = line.find(':', first + 1);
    out += line.substr(0, first + 1);
    out += password_field;
    if (second != std::string_view::npos) {
      out += line.substr(second);
    } else {
      // Keep the line ending (LF or CRLF) of the last column.
      auto tail = line.substr(first + 1);
      if (tail.ends_with("\r\n")) {
        out += "\r\n";
      } else if (tail.ends_with('\n')) {
        out += '\n';
      }
    }
  }
  check_parses(out);
  return out;
}

std::string read_text_file(const std::filesystem::path& file) {
  unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return {};
    throw io_error("cannot read", file);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    const auto n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot read", file);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

void write_file_atomically(const std::filesystem::path& file, std::string_view content,
                           unsigned mode) {
  const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  const auto tmp = dir / (file.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(rd()));
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) throw io_error("cannot create", tmp);
  auto cleanup_fail = [&](const char* what) {
    auto err = io_error(what, tmp);
    ::unlink(tmp.c_str());
    return err;
  };
  // The umask may have narrowed the mode; set it exactly.
  if (::fchmod(fd.get(), mode) != 0) throw cleanup_fail("cannot chmod");
  std::size_t done = 0;
  while (done < content.size()) {
    const auto n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw cleanup_fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throw cleanup_fail("cannot fsync");
  if (::close(fd.release()) != 0) throw cleanup_fail("cannot close");
  if (::rename(tmp.c_str(), file.c_str()) != 0) throw cleanup_fail("cannot rename to target");
  // The rename is durable only once the directory is synced.
  unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
}

void edit_passwd_file(const std::filesystem::path& file,
                      const std::function<std::string(std::string_view)>& edit) {
  std::error_code ec;
  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      throw std::runtime_error("cannot create directory " + file.parent_path().string() + ": " +
                               ec.message());
    }
  }
  auto lock_path = file;
  lock_path += ".lock";
  unique_fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0) throw io_error("cannot open lock file", lock_path);
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) throw io_error("cannot lock", lock_path);
  }
  const std::string old_text = read_text_file(file);
  const std::string new_text = edit(old_text);
  write_file_atomically(file, new_text, 0600);
}

}  // namespace packmail::server
