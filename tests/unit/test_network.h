// A network's certificate authority in a temp folder and members with
// certificates from it, for tests that run peers in one process (and
// outsiders: another CA's member, an expired certificate).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "central/certificate_authority.h"
#include "common/peer_channel.h"
#include "common/small_files.h"
#include "common/x509.h"
#include "unit/test_dir.h"

namespace p2pshare::testing {

class TestNetwork {
 public:
  TestNetwork() : ca_dir_(dir_ / "ca") { OpenCa(); }
  // The CA already in `ca_dir` (a running central's data folder): the test
  // issues certificates of that very network (an expired one, say).
  explicit TestNetwork(const std::string& ca_dir) : ca_dir_(ca_dir) { OpenCa(); }

  // The files of `account`: a new key and a certificate valid for
  // `lifetime_s` (a negative one: expired that long ago), in <dir>/<account>/.
  PeerIdentity Member(const std::string& account, int64_t lifetime_s = 3600) {
    return Issue(*ca_, account, lifetime_s);
  }
  // `account` with a certificate from another network's CA.
  PeerIdentity Outsider(const std::string& account) {
    if (!other_) other_ = std::move(central::CertificateAuthority::Open(dir_ / "other", {})).value();
    PeerIdentity id = Issue(*other_, account + ".outsider", 3600);
    // It claims our CA as its network's (what it checks its peers by).
    EXPECT_TRUE(WriteFileAtomically(id.ca_file, ca_->ca_pem(), 0644).ok());
    return id;
  }
  const std::string& ca_pem() const { return ca_->ca_pem(); }
  std::string ca_file() const { return ca_dir_ + "/ca.pem"; }
  const central::CertificateAuthority& ca() const { return *ca_; }

 private:
  void OpenCa() {
    auto ca = central::CertificateAuthority::Open(ca_dir_, {"localhost"});
    if (!ca.ok()) ADD_FAILURE() << ca.status().message();
    ca_ = std::move(ca).value();
  }
  PeerIdentity Issue(const central::CertificateAuthority& ca, const std::string& account,
                     int64_t lifetime_s) {
    std::string folder = dir_ / account;
    std::filesystem::create_directories(folder);
    PeerIdentity id = PeerIdentityIn(folder);
    auto key = LoadOrCreatePrivateKey(id.key_file);
    const std::string name = account.substr(0, account.find(".outsider"));
    auto cert = ca.IssuePeer(name, *PublicKeyPem(*key), lifetime_s);
    EXPECT_TRUE(cert.ok());
    EXPECT_TRUE(WriteFileAtomically(id.cert_file, cert->pem, 0644).ok());
    EXPECT_TRUE(WriteFileAtomically(id.ca_file, ca.ca_pem(), 0644).ok());
    return id;
  }

  TestDir dir_;
  const std::string ca_dir_;
  std::unique_ptr<central::CertificateAuthority> ca_;
  std::unique_ptr<central::CertificateAuthority> other_;
};

}  // namespace p2pshare::testing
