// The data directory: what packmaild checks and holds before it opens the
// store.
//
//   <data_dir>/FORMAT   "packmail-data 1\n": the layout version
//   <data_dir>/LOCK     flock()ed by the running packmaild; holds its PID
//   <data_dir>/users    the passwd-file (default location)
//   <data_dir>/tls/     the generated self-signed certificate
//   <data_dir>/shards/default/   the segment store
//   <data_dir>/admin.token        the admin API's bearer token (0600)
//   <data_dir>/replication.secret the shared replication secret (0600)
//   <data_dir>/replication/       bootstrap staging, checkpoints, quarantine
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace packmail::server {

// The layout version this packmaild reads and writes.
constexpr int k_data_format_version = 1;

// The data directory cannot be used. what() is one line for stderr.
class data_dir_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Exclusive ownership of a data directory for the lifetime of the object.
// Not copyable; the lock is released (by closing the descriptor) on
// destruction or process exit, so a crashed packmaild never leaves a stale
// lock.
class data_dir_lock {
 public:
  // Creates the directory if missing, checks that it is a readable and
  // writable directory, takes the lock (without waiting), then checks or
  // writes FORMAT. Throws data_dir_error:
  //   "data directory D is locked by another packmaild (pid N)"
  //   "data directory D has format version N, newer than this packmaild (1)"
  //   "data directory D is not readable and writable: Permission denied" ...
  explicit data_dir_lock(const std::filesystem::path& dir);
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;
  ~data_dir_lock();

 private:
  int fd_ = -1;
};

// The first line of a secret file (a token or shared secret). If the file is
// missing and create is true, writes a new random one (32 bytes, hex) with
// mode 0600 first. Throws data_dir_error if it cannot be read or is empty.
std::string secret_file(const std::filesystem::path& path, bool create);

}  // namespace packmail::server
