// The network's certificate authority (central) and the key and
// certificate handling both sides share: what is made on disk and with
// which modes, what verifies, and what does not.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>

#include "central/certificate_authority.h"
#include "common/x509.h"
#include "unit/test_dir.h"

namespace p2pshare {
namespace {

using central::CertificateAuthority;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(CertificateAuthorityTest, MadeOnceWithPrivateFilesAndKeptAcrossRestarts) {
  testing::TestDir dir;
  auto ca = CertificateAuthority::Open(dir / "ca", {"localhost", "127.0.0.1"});
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  EXPECT_EQ(Mode(dir / "ca"), 0700u);
  EXPECT_EQ(Mode(dir / "ca/ca.key"), 0600u);
  EXPECT_EQ((*ca)->fingerprint().size(), 64u);
  auto again = CertificateAuthority::Open(dir / "ca", {"localhost"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->fingerprint(), (*ca)->fingerprint()) << "the same CA after a restart";
  EXPECT_EQ((*again)->ca_pem(), (*ca)->ca_pem());
}

TEST(CertificateAuthorityTest, CentralsCertificateIsSignedByTheCaAndIsNoPeer) {
  testing::TestDir dir;
  auto ca = CertificateAuthority::Open(dir / "ca", {"localhost", "127.0.0.1", "::1"});
  ASSERT_TRUE(ca.ok());
  auto chain = SplitPemCertificates((*ca)->server_chain_pem());
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u) << "central's certificate, then the CA's";
  auto leaf = VerifyCertificate((*chain)[0], (*ca)->ca_pem(), Now());
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(leaf->common_name, kCentralCommonName);
  EXPECT_FALSE(PeerUsername(*leaf).has_value());
  EXPECT_EQ(ReadCertificate((*chain)[1])->fingerprint, (*ca)->fingerprint());
}

TEST(CertificateAuthorityTest, PeerCertificatesBindTheRequestersKeyToItsAccount) {
  testing::TestDir dir;
  auto ca = CertificateAuthority::Open(dir / "ca", {"localhost"});
  ASSERT_TRUE(ca.ok());
  auto key = LoadOrCreatePrivateKey(dir / "peer.key");
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(Mode(dir / "peer.key"), 0600u);
  EXPECT_EQ(*LoadOrCreatePrivateKey(dir / "peer.key"), *key) << "made once, then read";
  auto csr = MakeCsr(*key, "peer/alice");
  ASSERT_TRUE(csr.ok());
  auto public_key = CsrPublicKey(*csr);
  ASSERT_TRUE(public_key.ok()) << public_key.status().message();
  EXPECT_EQ(*public_key, *PublicKeyPem(*key));

  auto issued = (*ca)->IssuePeer("alice", *public_key, 3600);
  ASSERT_TRUE(issued.ok()) << issued.status().message();
  auto info = VerifyCertificate(issued->pem, (*ca)->ca_pem(), Now());
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(PeerUsername(*info), "alice");
  EXPECT_EQ(info->uris, std::vector<std::string>{"p2pshare://peer/alice"}) << "the identity is a SAN too";
  EXPECT_EQ(info->serial, issued->serial);
  EXPECT_NEAR(static_cast<double>(info->not_after), static_cast<double>(Now() + 3600), 5);

  // Expired an hour later; not valid before it was issued either.
  auto late = VerifyCertificate(issued->pem, (*ca)->ca_pem(), Now() + 3700);
  EXPECT_EQ(late.status().code(), Code::kUnauthenticated);
  EXPECT_NE(late.status().message().find("expired"), std::string::npos) << late.status().message();
  EXPECT_EQ(VerifyCertificate(issued->pem, (*ca)->ca_pem(), Now() - 3600).status().code(),
            Code::kUnauthenticated);
}

TEST(CertificateAuthorityTest, APeersAccountIsReadFromItsSubjectAlternativeName) {
  CertificateInfo cert;
  cert.common_name = "peer/alice";
  cert.uris = {"p2pshare://peer/alice"};
  EXPECT_EQ(PeerUsername(cert), "alice");
  cert.uris = {};
  EXPECT_EQ(PeerUsername(cert), std::nullopt) << "no SAN: not a peer certificate of this version";
  cert.uris = {"p2pshare://peer/bob"};
  EXPECT_EQ(PeerUsername(cert), std::nullopt) << "the names disagree";
  cert.uris = {"p2pshare://peer/alice", "p2pshare://peer/bob"};
  EXPECT_EQ(PeerUsername(cert), std::nullopt) << "two identities";
  cert.uris = {"https://example.com/alice"};
  EXPECT_EQ(PeerUsername(cert), std::nullopt);
  cert.uris = {"p2pshare://peer/alice"};
  cert.is_ca = true;
  EXPECT_EQ(PeerUsername(cert), std::nullopt);
}

TEST(CertificateAuthorityTest, AnotherNetworksCertificateAndForgedRequestsAreRefused) {
  testing::TestDir dir;
  auto ours = CertificateAuthority::Open(dir / "ours", {"localhost"});
  auto theirs = CertificateAuthority::Open(dir / "theirs", {"localhost"});
  ASSERT_TRUE(ours.ok() && theirs.ok());
  EXPECT_NE((*ours)->fingerprint(), (*theirs)->fingerprint());
  auto key = NewPrivateKeyPem();
  auto foreign = (*theirs)->IssuePeer("alice", *PublicKeyPem(*key), 3600);
  ASSERT_TRUE(foreign.ok());
  auto refused = VerifyCertificate(foreign->pem, (*ours)->ca_pem(), Now());
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("not from this network's CA"), std::string::npos)
      << refused.status().message();

  // A request whose signature does not match its key proves nothing.
  std::string csr = *MakeCsr(*key, "peer/alice");
  size_t body = csr.find('\n') + 40;
  csr[body] = csr[body] == 'A' ? 'B' : 'A';
  EXPECT_EQ(CsrPublicKey(csr).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CsrPublicKey("not a request").status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(VerifyCertificate("junk", (*ours)->ca_pem(), Now()).ok());
}

}  // namespace
}  // namespace p2pshare
