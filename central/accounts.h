// Accounts: registration and password checks, with the slow-down of
// repeated failed logins (auth.h's LoginThrottle).
//
// Accounts live in the store (a password only as its PBKDF2 hash). The
// throttle's counts and the registrations per address live in this
// process's memory, or, for replicas, in their shared database (`shared`);
// the failed-login counter is this process's (docs/architecture.md).
//
// Thread-safe: called from httplib's workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "central/auth.h"
#include "central/store/directory_store.h"
#include "central/store/replica_store.h"
#include "common/limits.h"
#include "common/status.h"

namespace p2pshare::central {

// How long a password check waits for its turn before "busy".
inline constexpr auto kPasswordWait = std::chrono::seconds(5);

struct AccountsOptions {
  bool allow_registration = true;
  int pbkdf2_iterations = kPbkdf2Iterations;
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
  int64_t register_per_minute = 20;  // accounts one address may create (0: no limit)
  int64_t password_checks = 2;       // PBKDF2 runs at once; 8x more may wait
  ReplicaStore* shared = nullptr;    // replicas: counts kept in the database
};

class Accounts {
 public:
  Accounts(DirectoryStore* store, AccountsOptions options);

  // The new account's name. InvalidArgument (bad username or password),
  // AlreadyExists "username_taken", PermissionDenied "registration_closed",
  // ResourceExhausted "too_many_registrations" (with `*retry_after_s`) when
  // `remote_address` created its share this minute, Unavailable "busy"
  // when too many password hashes are waiting.
  Result<std::string> Register(const std::string& username, const std::string& password,
                               const std::string& remote_address = "",
                               int64_t* retry_after_s = nullptr);

  // OK when `password` is the account's. Unauthenticated "bad_credentials"
  // for a wrong password or an unknown account (both cost one PBKDF2, so
  // timing does not tell which names exist); ResourceExhausted
  // "too_many_attempts" with `*retry_after_s` set while `username` or
  // `remote_address` must wait; Unavailable "busy" as for Register.
  Status CheckPassword(const std::string& username, const std::string& password,
                       const std::string& remote_address, int64_t* retry_after_s);

  int64_t failed_logins() const { return failed_logins_.load(); }
  Result<int64_t> Count() { return store_->CountAccounts(); }

 private:
  // Runs `hash` (a PBKDF2) for a caller at `address` about `account` once
  // one of `password_checks` places is its (FairSlots, common/limits.h:
  // the place goes to the waiter whose address and account were served
  // longest ago, successful logins or not, and one address or account
  // holds at most half of the places; loopback is not counted as an
  // address); up to 8x that many wait, each at
  // most kPasswordWait. Unavailable "busy" when there was no place.
  Status WithPasswordSlot(const std::string& address, const std::string& account,
                          const std::function<void()>& hash);
  // The throttle's and the registration limit's counts, wherever they live.
  Result<int64_t> RetryAfter(const std::string& who, const std::string& address);
  Status RecordFailure(const std::string& who, const std::string& address);
  Status RecordSuccess(const std::string& username, const std::string& address);
  Result<int64_t> TakeRegistration(const std::string& address);

  DirectoryStore* const store_;
  const AccountsOptions options_;
  LoginThrottle throttle_;
  RateLimits registrations_;
  FairSlots password_slots_;
  std::atomic<int64_t> failed_logins_{0};
};

}  // namespace p2pshare::central
