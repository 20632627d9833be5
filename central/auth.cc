#include "central/auth.h"

#include <algorithm>
#include <tuple>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <vector>

#include "common/hex.h"
#include "common/mutex.h"
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

namespace {

constexpr size_t kMaxEntries = 100000;
constexpr size_t kMaxKnown = 100000;

int64_t Ms(LoginThrottle::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

int64_t WaitSeconds(const std::optional<FailureCount>& c, int64_t now_ms) {
  if (!c || Forgotten(*c, now_ms) || c->blocked_until_ms <= now_ms) return 0;
  return std::max<int64_t>(1, (c->blocked_until_ms - now_ms + 999) / 1000);
}

// `count` after one more failure at `now_ms`, of which `free_failures` are free.
FailureCount AfterFailure(const std::optional<FailureCount>& count, int free_failures,
                          int64_t max_delay_ms, int64_t now_ms) {
  FailureCount c = count && !Forgotten(*count, now_ms) ? *count : FailureCount{};
  c.failures++;
  c.last_failure_ms = now_ms;
  if (c.failures >= free_failures) {
    int64_t over = std::min<int64_t>(c.failures - free_failures, 16);
    c.blocked_until_ms = now_ms + std::min<int64_t>(int64_t{1000} << over, max_delay_ms);
  }
  return c;
}

}  // namespace

std::string ThrottlePairKey(const std::string& username, const std::string& address) {
  return "p:" + username + "\n" + address;
}

std::string ThrottleAddressKey(const std::string& address) { return "a:" + address; }

bool Forgotten(const FailureCount& c, int64_t now_ms) {
  return now_ms - c.last_failure_ms > ThrottlePolicy::kForgetAfterMs;
}

std::pair<FailureCount, FailureCount> AfterLoginFailure(const std::optional<FailureCount>& pair,
                                                        const std::optional<FailureCount>& address,
                                                        const ThrottlePolicy& policy, int64_t now_ms) {
  return {AfterFailure(pair, policy.free_failures, policy.max_delay_ms, now_ms),
          AfterFailure(address, 4 * policy.free_failures, policy.max_delay_ms, now_ms)};
}

int64_t RetryAfterSeconds(const std::optional<FailureCount>& pair,
                          const std::optional<FailureCount>& address, bool known, int64_t now_ms) {
  int64_t own = WaitSeconds(pair, now_ms);
  // A pair that has logged in before is not held up by its address's
  // failures for other names.
  if (known) return own;
  return std::max(own, WaitSeconds(address, now_ms));
}

std::optional<FailureCount> LoginThrottle::Count(const std::string& key, int64_t now_ms) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (Forgotten(it->second, now_ms)) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

bool LoginThrottle::Known(const std::string& pair, int64_t now_ms) {
  auto it = known_.find(pair);
  if (it == known_.end()) return false;
  if (now_ms - it->second > policy_.known_for_ms) {
    known_.erase(it);
    return false;
  }
  return true;
}

int64_t LoginThrottle::RetryAfter(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  MutexLock lock(mu_);
  const int64_t now_ms = Ms(now);
  const std::string pair = ThrottlePairKey(username, address);
  return RetryAfterSeconds(Count(pair, now_ms), Count(ThrottleAddressKey(address), now_ms),
                           Known(pair, now_ms), now_ms);
}

void LoginThrottle::RecordFailure(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  MutexLock lock(mu_);
  const int64_t now_ms = Ms(now);
  if (entries_.size() > kMaxEntries) {  // bound memory under a flood of names
    std::erase_if(entries_, [&](const auto& e) { return Forgotten(e.second, now_ms); });
    // Still full of fresh entries: forget pairs (addresses keep counting).
    for (auto it = entries_.begin(); it != entries_.end() && entries_.size() > kMaxEntries / 2;) {
      it = it->first.compare(0, 2, "p:") == 0 ? entries_.erase(it) : std::next(it);
    }
  }
  const std::string pair = ThrottlePairKey(username, address);
  const std::string addr = ThrottleAddressKey(address);
  std::tie(entries_[pair], entries_[addr]) =
      AfterLoginFailure(Count(pair, now_ms), Count(addr, now_ms), policy_, now_ms);
}

void LoginThrottle::RecordSuccess(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  MutexLock lock(mu_);
  const std::string pair = ThrottlePairKey(username, address);
  entries_.erase(pair);
  if (known_.size() >= kMaxKnown && known_.find(pair) == known_.end()) {
    auto oldest = std::min_element(known_.begin(), known_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    known_.erase(oldest);
  }
  known_[pair] = Ms(now);
}

}  // namespace p2pshare::central
