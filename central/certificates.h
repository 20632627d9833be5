// Certificates: the peer certificates central issues (docs/protocol.md,
// "Trust") — at login, over the key of the request the peer sent; renewed
// at a heartbeat once past half their lifetime — and the revoked ones:
// every still-valid certificate of an account that logged out or was
// evicted, listed in every login and heartbeat reply so peers refuse it.
//
// DESIGN: certificates and the sessions' keys are in the store, so renewal
// and revocation survive a restart; this class keeps what heartbeats need
// in memory (each session's key and newest expiry, the revoked list,
// refreshed from the store when it changes or every 30 s).
//
// Thread-safe: httplib's workers and the sweeper.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "central/certificate_authority.h"
#include "central/store/directory_store.h"
#include "common/status.h"

namespace p2pshare::central {

class Certificates {
 public:
  // `now_unix` is the clock renewals are timed by (tests move it).
  Certificates(DirectoryStore* store, const CertificateAuthority* ca, int64_t lifetime_s,
               std::function<int64_t()> now_unix);

  // The public key of a certificate request, after checking its signature
  // (the requester holds the key). InvalidArgument naming the field.
  Result<std::string> CheckRequest(const std::string& csr_pem) const;
  // The first certificate of a new session over `public_key`.
  Result<IssuedCertificate> Issue(const std::string& username, const std::string& token_hash,
                                  const std::string& public_key);
  // A new certificate for the session `token_hash` when its newest one is
  // past half its lifetime; nullopt when it is fresh or the session asked
  // for none.
  Result<std::optional<IssuedCertificate>> RenewIfDue(const std::string& username,
                                                      const std::string& token_hash);
  // Serials of revoked certificates not yet expired.
  std::vector<std::string> Revoked();
  // Certificates were revoked (a logout or an eviction): refresh the list.
  void Invalidate();

  const std::string& ca_pem() const { return ca_->ca_pem(); }
  int64_t lifetime_s() const { return lifetime_s_; }

 private:
  struct Held {
    std::string public_key;
    int64_t not_after = 0;
  };
  Result<IssuedCertificate> IssueAndRecord(const std::string& username,
                                           const std::string& token_hash,
                                           const std::string& public_key);

  DirectoryStore* const store_;
  const CertificateAuthority* const ca_;
  const int64_t lifetime_s_;
  const std::function<int64_t()> now_unix_;
  std::mutex mu_;
  std::unordered_map<std::string, Held> held_;  // GUARDED_BY(mu_): by token hash
  std::vector<std::string> revoked_;            // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point revoked_read_{};  // GUARDED_BY(mu_)
  uint64_t revocations_ = 1;      // GUARDED_BY(mu_): counts Invalidate calls
  uint64_t revoked_as_of_ = 0;    // GUARDED_BY(mu_): the count revoked_ reflects
};

}  // namespace p2pshare::central
