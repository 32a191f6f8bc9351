#include "data_dir/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>

#include "users/passwd_edit.h"

namespace packmail::server {
namespace {

constexpr std::string_view k_format_magic = "packmail-data ";

std::string describe(const std::filesystem::path& dir) { return "data directory " + dir.string(); }

void check_format(const std::filesystem::path& dir) {
  const auto file = dir / "FORMAT";
  std::string text;
  try {
    text = read_text_file(file);
  } catch (const std::exception& e) {
    throw data_dir_error(std::string(e.what()));
  }
  if (text.empty()) {
    // A new directory, or one that so far only holds files packmailctl
    // wrote (users): claim it for this format.
    try {
      write_file_atomically(file, "packmail-data " + std::to_string(k_data_format_version) + "\n",
                            0644);
    } catch (const std::exception& e) {
      throw data_dir_error(std::string(e.what()));
    }
    return;
  }
  std::string_view v = text;
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  int version = 0;
  bool ok = v.starts_with(k_format_magic);
  if (ok) {
    v.remove_prefix(k_format_magic.size());
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
    ok = ec == std::errc() && end == v.data() + v.size() && version > 0;
  }
  if (!ok) {
    throw data_dir_error(describe(dir) +
                         " has an unreadable FORMAT file (expected \"packmail-data " +
                         std::to_string(k_data_format_version) + "\")");
  }
  if (version > k_data_format_version) {
    throw data_dir_error(describe(dir) + " has format version " + std::to_string(version) +
                         ", newer than this packmaild (" + std::to_string(k_data_format_version) +
                         ")");
  }
}

std::string read_pid(int fd) {
  char buf[32] = {};
  const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return {};
  std::string_view s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  int pid = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || end != s.data() + s.size() || pid <= 0) return {};
  return std::to_string(pid);
}

}  // namespace

data_dir_lock::data_dir_lock(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw data_dir_error("cannot create " + describe(dir) + ": " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) {
    throw data_dir_error(describe(dir) + " is not a directory");
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    throw data_dir_error(describe(dir) + " is not readable and writable: " + std::strerror(errno));
  }
  const auto lock_file = dir / "LOCK";
  fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw data_dir_error("cannot open " + lock_file.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const auto pid = read_pid(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw data_dir_error(describe(dir) + " is locked by another packmaild" +
                           (pid.empty() ? std::string() : " (pid " + pid + ")"));
    }
    throw data_dir_error("cannot lock " + lock_file.string() + ": " + std::strerror(err));
  }
  try {
    // The PID is informational (for the message above); the flock is the lock.
    const auto pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      throw data_dir_error("cannot write " + lock_file.string() + ": " + std::strerror(errno));
    }
    check_format(dir);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0) {
    // Empty the PID first so that a reader never sees a stale one.
    if (::ftruncate(fd_, 0) != 0) {
      // Nothing useful to do: the flock goes away with the descriptor.
    }
    ::close(fd_);
  }
}

std::string secret_file(const std::filesystem::path& path, bool create) {
  std::error_code ec;
  if (create && !std::filesystem::exists(path, ec)) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) throw data_dir_error("cannot make a random secret");
    std::string hex;
    for (unsigned char b : raw) {
      static constexpr char digits[] = "0123456789abcdef";
      hex += digits[b >> 4];
      hex += digits[b & 15];
    }
    hex += '\n';
    // O_EXCL: two processes never both write one; mode 0600 from the start.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) &&
                      ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) throw data_dir_error("cannot write " + path.string() + ": " + std::strerror(errno));
    } else if (errno != EEXIST) {
      throw data_dir_error("cannot create " + path.string() + ": " + std::strerror(errno));
    }
  }
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    throw data_dir_error("cannot read " + path.string() +
                         (create ? "" : " (copy it from the primary)"));
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) throw data_dir_error(path.string() + " is empty");
  return line;
}

}  // namespace packmail::server
