// Certificates: the peer certificates central issues (docs/protocol.md,
// "Trust") — at login, over the key of the request the peer sent; renewed
// at a heartbeat once past half their lifetime — and the revoked ones:
// every still-valid certificate of an account that logged out or was
// evicted, told to every peer in its next login or heartbeat reply so it
// refuses it. Each reply tells only what was revoked since the caller's
// last (its cursor, a revocation's seq), at most kRevokedPerReply at a
// time: a reply's size follows what changed, not all the churn of the
// last hour (300 login/logout cycles had made everyone's heartbeat reply
// grow from 52 B to 10.8 KB).
//
// DESIGN: certificates and the sessions' keys are in the store, so renewal
// and revocation survive a restart; this class keeps what heartbeats need
// in memory (each session's key and newest expiry, the revoked list,
// read on from the store after a revocation here, and at least once a
// second while heartbeats come, so another replica's revocation is told
// within a heartbeat interval).
//
// Thread-safe: httplib's workers and the sweeper.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "central/certificate_authority.h"
#include "central/store/directory_store.h"
#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::central {

// Serials one reply tells at most (~11 KB).
inline constexpr size_t kRevokedPerReply = 256;

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
  // Revocation news for a caller who has heard of every revocation up to
  // `after` (0: none): the serials revoked since, still valid, oldest
  // first, at most kRevokedPerReply of them (more when one logout revoked
  // more at once); `seq` to send next time, and `more` when others wait
  // (ask again at once). A cursor ahead of every revocation here (another
  // database) is taken as 0.
  struct News {
    std::vector<std::string> serials;
    int64_t seq = 0;
    bool more = false;
  };
  News RevokedAfter(int64_t after);
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
  Mutex mu_;
  std::unordered_map<std::string, Held> held_ GUARDED_BY(mu_);  // by token hash
  // Revoked and not yet expired, in order of revocation; read from the
  // store incrementally (only what is past known_seq_).
  std::vector<RevokedCertificate> revoked_ GUARDED_BY(mu_);
  int64_t known_seq_ GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point revoked_read_ GUARDED_BY(mu_){};
  std::chrono::steady_clock::time_point revoked_pruned_ GUARDED_BY(mu_){};
  uint64_t revocations_ GUARDED_BY(mu_) = 1;  // counts Invalidate calls
  uint64_t revoked_as_of_ GUARDED_BY(mu_) = 0;  // the count revoked_ reflects
};

}  // namespace p2pshare::central
