// Accounts: registration and password checks, with the slow-down of
// repeated failed logins (auth.h's LoginThrottle).
//
// Accounts live in the store (a password only as its PBKDF2 hash). The
// throttle's counts and the failed-login counter live in this process's
// memory only (docs/architecture.md, "State that lives in one process").
//
// Thread-safe: called from httplib's workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "central/auth.h"
#include "central/store/directory_store.h"
#include "common/status.h"

namespace p2pshare::central {

struct AccountsOptions {
  bool allow_registration = true;
  int pbkdf2_iterations = kPbkdf2Iterations;
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

class Accounts {
 public:
  Accounts(DirectoryStore* store, AccountsOptions options);

  // The new account's name. InvalidArgument (bad username or password),
  // AlreadyExists "username_taken", PermissionDenied "registration_closed".
  Result<std::string> Register(const std::string& username, const std::string& password);

  // OK when `password` is the account's. Unauthenticated "bad_credentials"
  // for a wrong password or an unknown account (both cost one PBKDF2, so
  // timing does not tell which names exist); ResourceExhausted
  // "too_many_attempts" with `*retry_after_s` set while `username` or
  // `remote_address` must wait.
  Status CheckPassword(const std::string& username, const std::string& password,
                       const std::string& remote_address, int64_t* retry_after_s);

  int64_t failed_logins() const { return failed_logins_.load(); }
  Result<int64_t> Count() { return store_->CountAccounts(); }

 private:
  DirectoryStore* const store_;
  const AccountsOptions options_;
  LoginThrottle throttle_;
  std::atomic<int64_t> failed_logins_{0};
};

}  // namespace p2pshare::central
