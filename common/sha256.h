// Streaming SHA-256 over OpenSSL EVP (uses SHA-NI where the CPU has it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace p2pshare {

// Incremental hash. Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  // Makes this hash continue from where `other` is (a checkpoint).
  void CopyFrom(const Sha256& other);

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The digest as 64 lowercase hex digits. The object is reset afterwards.
  std::string FinishHex();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Hex digest of `data`.
std::string Sha256Hex(std::string_view data);
// Reads the regular file at `path` in 256 KiB blocks: `opened` gets its
// size, then `block` each block in order. NotFound if it cannot be opened
// (or is not a regular file), Internal on a read error.
Status ReadRegularFile(const std::string& path, const std::function<void(int64_t size)>& opened,
                      const std::function<void(const char* data, size_t size)>& block);
// Hex digest of a file's contents, read in 256 KiB blocks (bounded memory).
// NotFound if it cannot be opened, Internal on a read error.
Result<std::string> Sha256File(const std::string& path);

}  // namespace p2pshare
