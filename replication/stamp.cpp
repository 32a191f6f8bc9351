#include "stamp.h"

#include <chrono>

namespace packmail::replication {
namespace {

// Visits only the log data; every data record is accepted unread.
class stamp_reader : public rocksdb::WriteBatch::Handler {
 public:
  std::optional<stamp> found;

  void LogData(const rocksdb::Slice& blob) override {
    if (blob.size() != 10) return;
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
    stamp s;
    s.epoch = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    for (int i = 2; i < 10; ++i) s.commit_ms = (s.commit_ms << 8) | p[i];
    found = s;
  }
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status SingleDeleteCF(uint32_t, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteRangeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status PutBlobIndexCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
};

}  // namespace

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

double seconds_since(std::uint64_t then_ms) {
  const std::uint64_t now = unix_ms();
  return now > then_ms ? static_cast<double>(now - then_ms) / 1000.0 : 0.0;
}

std::optional<stamp> read_stamp(const rocksdb::WriteBatch& batch) {
  stamp_reader r;
  if (!batch.Iterate(&r).ok()) return std::nullopt;
  return r.found;
}

}  // namespace packmail::replication
