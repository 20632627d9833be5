#include "central/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <vector>

#include "common/hex.h"
#include "common/sha256.h"

namespace p2pshare::central {
namespace {

std::vector<uint8_t> Pbkdf2(const std::string& password, const std::vector<uint8_t>& salt,
                            int iterations) {
  std::vector<uint8_t> out(32);
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    static_cast<int>(out.size()), out.data());
  return out;
}

}  // namespace

std::string HashPassword(const std::string& password, int iterations) {
  std::vector<uint8_t> salt = RandomBytes(16);
  auto hash = Pbkdf2(password, salt, iterations);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + HexEncode(salt) + "$" +
         HexEncode(hash);
}

bool VerifyPassword(const std::string& password, const std::string& stored) {
  // pbkdf2-sha256$<iterations>$<salt>$<hash>
  const std::string prefix = "pbkdf2-sha256$";
  if (stored.rfind(prefix, 0) != 0) return false;
  size_t a = prefix.size();
  size_t b = stored.find('$', a);
  if (b == std::string::npos) return false;
  size_t c = stored.find('$', b + 1);
  if (c == std::string::npos) return false;
  int iterations = 0;
  try {
    iterations = std::stoi(stored.substr(a, b - a));
  } catch (...) {
    return false;
  }
  if (iterations < 1 || iterations > 10'000'000) return false;
  auto salt = HexDecode(std::string_view(stored).substr(b + 1, c - b - 1));
  auto expected = HexDecode(std::string_view(stored).substr(c + 1));
  if (!salt || !expected || expected->size() != 32) return false;
  auto actual = Pbkdf2(password, *salt, iterations);
  return CRYPTO_memcmp(actual.data(), expected->data(), expected->size()) == 0;
}

std::string NewToken() { return RandomHex(32); }

std::string TokenHash(const std::string& token) { return Sha256Hex(token); }

LoginThrottle::LoginThrottle(int free_failures, std::chrono::seconds max_delay)
    : free_failures_(free_failures), max_delay_(max_delay) {}

int64_t LoginThrottle::WaitFor(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  if (now - it->second.last_failure > std::chrono::minutes(15)) {
    entries_.erase(it);
    return 0;
  }
  if (it->second.blocked_until <= now) return 0;
  auto wait = std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now);
  return std::max<int64_t>(1, wait.count());
}

int64_t LoginThrottle::RetryAfter(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::max(WaitFor("u:" + username, now), WaitFor("a:" + address, now));
}

void LoginThrottle::Fail(const std::string& key, int free_failures, Clock::time_point now) {
  Entry& e = entries_[key];
  if (now - e.last_failure > std::chrono::minutes(15)) e = Entry{};
  e.failures++;
  e.last_failure = now;
  if (e.failures >= free_failures) {
    int over = std::min(e.failures - free_failures, 16);
    auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(int64_t{1} << over), max_delay_);
    e.blocked_until = now + delay;
  }
}

void LoginThrottle::RecordFailure(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() > 100000) {  // bound memory under a flood of names
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = (now - it->second.last_failure > std::chrono::minutes(15)) ? entries_.erase(it) : std::next(it);
    }
  }
  Fail("u:" + username, free_failures_, now);
  Fail("a:" + address, 4 * free_failures_, now);
}

void LoginThrottle::RecordSuccess(const std::string& username) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase("u:" + username);
}

}  // namespace p2pshare::central
