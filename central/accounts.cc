#include "central/accounts.h"

#include <spdlog/spdlog.h>

#include "common/names.h"

namespace p2pshare::central {

Accounts::Accounts(DirectoryStore* store, AccountsOptions options)
    : store_(store), options_(std::move(options)) {}

Result<std::string> Accounts::Register(const std::string& username, const std::string& password) {
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
  RETURN_IF_ERROR(store_->CreateAccount(
      AccountRecord{username, HashPassword(password, options_.pbkdf2_iterations)}));
  spdlog::info("registered account {}", username);
  return username;
}

Status Accounts::CheckPassword(const std::string& username, const std::string& password,
                               const std::string& remote_address, int64_t* retry_after_s) {
  auto now = options_.now();
  *retry_after_s = throttle_.RetryAfter(username, remote_address, now);
  if (*retry_after_s > 0) {
    return ResourceExhausted("too many failed logins; try again in " +
                                 std::to_string(*retry_after_s) + " s",
                             "too_many_attempts");
  }
  ASSIGN_OR_RETURN(auto account, store_->FindAccount(username));
  // Hash even for unknown names, so timing does not tell which names exist.
  static const std::string kDummy = HashPassword("not a password", kPbkdf2Iterations);
  bool good = VerifyPassword(password, account ? account->password_hash : kDummy) &&
              account.has_value();
  if (!good) {
    throttle_.RecordFailure(username, remote_address, now);
    failed_logins_.fetch_add(1);
    spdlog::info("failed login for '{}' from {}", CheckUsername(username).ok() ? username : "?",
                 remote_address);
    return Unauthenticated("wrong username or password", "bad_credentials");
  }
  throttle_.RecordSuccess(username);
  return Status::Ok();
}

}  // namespace p2pshare::central
