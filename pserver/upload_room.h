// UploadRoom: the bytes uploads in progress have set aside on a
// peer-server (docs/protocol.md, "Limits", storage): each upload reserves
// its announced size before its first byte, against the quota (what is
// shared plus every reservation, at most max_storage_bytes) and against
// the disk (what every upload in flight has still to write, at most the
// free bytes), and gives it back when it ends.
//
// Every size comes from a stranger: it is checked against kMaxUploadBytes
// before any arithmetic, and the sums are checked for overflow, so no
// pair of sizes can wrap a total below the bound (an upload held open and
// a second announcing a size near INT64_MAX had 300 MiB accepted against
// a 50 MiB quota). Checking and reserving are one step under one lock.
//
// Thread-safe (gRPC's threads).
#pragma once

#include <cstdint>

#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::pserver {

// The largest upload a peer-server takes (1 PiB).
inline constexpr int64_t kMaxUploadBytes = int64_t{1} << 50;

class UploadRoom {
 public:
  // Room set aside for one upload; given back when destroyed.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept;
    Reservation& operator=(Reservation&& o) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();
    // `k` more bytes are on the disk: they no longer count against it.
    void Wrote(int64_t k);

   private:
    friend class UploadRoom;
    UploadRoom* room_ = nullptr;
    int64_t size_ = 0;
    int64_t unwritten_ = 0;
  };

  // Sets aside `size` bytes for an upload when `shared` bytes are shared,
  // the quota is `max_storage` and the disk has `disk_free` bytes free.
  // InvalidArgument for a size below 0 or over kMaxUploadBytes;
  // ResourceExhausted (saying which) when the quota or the disk has no room.
  Result<Reservation> Reserve(int64_t size, int64_t shared, int64_t max_storage, int64_t disk_free);

  // What uploads may still add: the quota left and the disk left, the less.
  int64_t FreeBytes(int64_t shared, int64_t max_storage, int64_t disk_free) const;
  int64_t reserved() const;
  int64_t unwritten() const;

 private:
  void Release(int64_t size, int64_t unwritten);
  void Written(int64_t k);

  mutable Mutex mu_;
  int64_t reserved_ GUARDED_BY(mu_) = 0;  // announced sizes of uploads in progress
  int64_t unwritten_ GUARDED_BY(mu_) = 0;  // of those, bytes not yet on disk
};

}  // namespace p2pshare::pserver
