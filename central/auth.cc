#include "central/auth.h"

#include <algorithm>

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

namespace {

constexpr auto kForgetAfter = std::chrono::minutes(15);
constexpr size_t kMaxEntries = 100000;
constexpr size_t kMaxKnown = 100000;

std::string PairKey(const std::string& username, const std::string& address) {
  return "p:" + username + "\n" + address;
}

}  // namespace

LoginThrottle::LoginThrottle(int free_failures, std::chrono::seconds max_delay,
                             std::chrono::hours known_for)
    : free_failures_(free_failures), max_delay_(max_delay), known_for_(known_for) {}

int64_t LoginThrottle::WaitFor(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  if (now - it->second.last_failure > kForgetAfter) {
    entries_.erase(it);
    return 0;
  }
  if (it->second.blocked_until <= now) return 0;
  auto wait = std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now);
  return std::max<int64_t>(1, wait.count());
}

bool LoginThrottle::Known(const std::string& pair, Clock::time_point now) {
  auto it = known_.find(pair);
  if (it == known_.end()) return false;
  if (now - it->second > known_for_) {
    known_.erase(it);
    return false;
  }
  return true;
}

int64_t LoginThrottle::RetryAfter(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string pair = PairKey(username, address);
  int64_t own = WaitFor(pair, now);
  // A pair that has logged in before is not held up by its address's
  // failures for other names.
  if (Known(pair, now)) return own;
  return std::max(own, WaitFor("a:" + address, now));
}

void LoginThrottle::Fail(const std::string& key, int free_failures, Clock::time_point now) {
  Entry& e = entries_[key];
  if (now - e.last_failure > kForgetAfter) e = Entry{};
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
  if (entries_.size() > kMaxEntries) {  // bound memory under a flood of names
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = (now - it->second.last_failure > kForgetAfter) ? entries_.erase(it) : std::next(it);
    }
    // Still full of fresh entries: forget pairs (addresses keep counting).
    for (auto it = entries_.begin(); it != entries_.end() && entries_.size() > kMaxEntries / 2;) {
      it = it->first.compare(0, 2, "p:") == 0 ? entries_.erase(it) : std::next(it);
    }
  }
  Fail(PairKey(username, address), free_failures_, now);
  Fail("a:" + address, 4 * free_failures_, now);
}

void LoginThrottle::RecordSuccess(const std::string& username, const std::string& address,
                                  Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string pair = PairKey(username, address);
  entries_.erase(pair);
  if (known_.size() >= kMaxKnown && known_.find(pair) == known_.end()) {
    auto oldest = std::min_element(known_.begin(), known_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    known_.erase(oldest);
  }
  known_[pair] = now;
}

}  // namespace p2pshare::central
