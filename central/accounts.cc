#include "central/accounts.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/central_trust.h"
#include "common/names.h"

namespace p2pshare::central {
namespace {

const std::string kInvalidName = "?";
// The throttle's rules (auth.h), the same here and in every replica.
constexpr ThrottlePolicy kPolicy;

}  // namespace

Accounts::Accounts(DirectoryStore* store, AccountsOptions options)
    : store_(store),
      options_(std::move(options)),
      throttle_(kPolicy),
      registrations_(static_cast<double>(options_.register_per_minute) / 60.0,
                     static_cast<double>(options_.register_per_minute)),
      password_slots_(std::max<int64_t>(1, options_.password_checks),
                      std::max<int64_t>(1, options_.password_checks / 2),
                      static_cast<size_t>(8 * std::max<int64_t>(1, options_.password_checks))) {}

Status Accounts::WithPasswordSlot(const std::string& address, const std::string& account,
                                  const std::function<void()>& hash) {
  // Keyed by address (loopback, this machine, is not counted, as for
  // max_peers_per_address) and by account.
  auto slot = password_slots_.Enter({IsLoopbackHost(address) ? "" : "address " + address,
                                     account.empty() ? "" : "account " + account},
                                    kPasswordWait);
  if (!slot) return Unavailable("central is busy checking passwords; try again in a moment", "busy");
  hash();
  return Status::Ok();
}

Result<int64_t> Accounts::RetryAfter(const std::string& who, const std::string& address) {
  if (options_.shared != nullptr) return options_.shared->LoginRetryAfter(who, address, kPolicy);
  return throttle_.RetryAfter(who, address, options_.now());
}

Status Accounts::RecordFailure(const std::string& who, const std::string& address) {
  if (options_.shared != nullptr) return options_.shared->RecordLoginFailure(who, address, kPolicy);
  throttle_.RecordFailure(who, address, options_.now());
  return Status::Ok();
}

Status Accounts::RecordSuccess(const std::string& username, const std::string& address) {
  if (options_.shared != nullptr) return options_.shared->RecordLoginSuccess(username, address);
  throttle_.RecordSuccess(username, address, options_.now());
  return Status::Ok();
}

Result<int64_t> Accounts::TakeRegistration(const std::string& address) {
  if (options_.shared != nullptr) {
    return options_.shared->TakeRegistration(address, options_.register_per_minute);
  }
  return registrations_.Take(address, options_.now());
}

Result<std::string> Accounts::Register(const std::string& username, const std::string& password,
                                       const std::string& remote_address, int64_t* retry_after_s) {
  if (!options_.allow_registration) {
    return PermissionDenied("registration is closed on this directory", "registration_closed");
  }
  RETURN_IF_ERROR(CheckUsername(username));
  if (password.size() < 8 || password.size() > 1024) {
    return InvalidArgument("password must be 8 to 1024 bytes long", "bad_password");
  }
  // A taken name is refused before the (deliberately slow) hash, so asking
  // for taken names costs central no CPU. CreateAccount still decides races.
  ASSIGN_OR_RETURN(auto existing, store_->FindAccount(username));
  if (existing) return AlreadyExists("username '" + username + "' is taken", "username_taken");
  // Each new account costs a PBKDF2: one address creates only so many.
  ASSIGN_OR_RETURN(int64_t wait_ms, TakeRegistration(remote_address));
  if (wait_ms > 0) {
    int64_t wait_s = (wait_ms + 999) / 1000;
    if (retry_after_s != nullptr) *retry_after_s = wait_s;
    return ResourceExhausted("too many new accounts from your address; try again in " +
                                 std::to_string(wait_s) + " s",
                             "too_many_registrations");
  }
  std::string hash;
  RETURN_IF_ERROR(WithPasswordSlot(remote_address, username,
                                   [&] { hash = HashPassword(password, options_.pbkdf2_iterations); }));
  RETURN_IF_ERROR(store_->CreateAccount(AccountRecord{username, hash}));
  spdlog::info("registered account {}", username);
  return username;
}

Status Accounts::CheckPassword(const std::string& username, const std::string& password,
                               const std::string& remote_address, int64_t* retry_after_s) {
  // A name no account can have is counted (and refused) as one key, so
  // junk names cost the throttle no memory.
  const bool valid_name = CheckUsername(username).ok();
  const std::string& who = valid_name ? username : kInvalidName;
  ASSIGN_OR_RETURN(*retry_after_s, RetryAfter(who, remote_address));
  if (*retry_after_s > 0) {
    return ResourceExhausted("too many failed logins; try again in " +
                                 std::to_string(*retry_after_s) + " s",
                             "too_many_attempts");
  }
  std::optional<AccountRecord> account;
  if (valid_name) {
    ASSIGN_OR_RETURN(account, store_->FindAccount(username));
  }
  // Hash even for unknown names, so timing does not tell which names exist.
  static const std::string kDummy = HashPassword("not a password", kPbkdf2Iterations);
  bool good = false;
  RETURN_IF_ERROR(WithPasswordSlot(remote_address, who, [&] {
    good = VerifyPassword(password, account ? account->password_hash : kDummy) && account.has_value();
  }));
  if (!good) {
    RETURN_IF_ERROR(RecordFailure(who, remote_address));
    failed_logins_.fetch_add(1);
    spdlog::info("failed login for '{}' from {}", valid_name ? username : "?", remote_address);
    return Unauthenticated("wrong username or password", "bad_credentials");
  }
  return RecordSuccess(username, remote_address);
}

}  // namespace p2pshare::central
