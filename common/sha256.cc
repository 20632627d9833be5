#include "common/sha256.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <openssl/evp.h>

#include "common/hex.h"

namespace p2pshare {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::CopyFrom(const Sha256& other) { EVP_MD_CTX_copy_ex(ctx_->md, other.ctx_->md); }

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(ctx_->md, data, size);
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, digest, &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  return HexEncode(digest, len);
}

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.FinishHex();
}

Status ReadRegularFile(const std::string& path, const std::function<void(int64_t size)>& opened,
                      const std::function<void(const char* data, size_t size)>& block) {
  // O_NONBLOCK: a FIFO or device swapped in after the caller's check must
  // not hang the open; only a regular file is read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return NotFound("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return NotFound(path + " is not a regular file");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  opened(st.st_size);
  std::vector<char> buf(256 << 10);  // below the mmap threshold (common/heap.h): reused, not faulted in
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Internal("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    block(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::Ok();
}

Result<std::string> Sha256File(const std::string& path) {
  Sha256 h;
  RETURN_IF_ERROR(ReadRegularFile(
      path, [](int64_t) {}, [&](const char* data, size_t size) { h.Update(data, size); }));
  return h.FinishHex();
}

}  // namespace p2pshare
