// Keys and certificates of the network, over OpenSSL (libssl/libcrypto from
// Debian). Central is the certificate authority of its network
// (central/certificate_authority.h); every peer has an EC P-256 key of its
// own and presents a short-lived certificate central issued for it
// (docs/protocol.md, "Trust"). This file holds what both sides need:
// making and reading keys, certificate requests and certificates, and
// checking a certificate against the network's CA.
//
// Names in certificates: a peer's subject common name is "peer/<username>"
// (never a host name, so a peer's certificate can never pass for central's
// or for any host's); central's own is kCentralCommonName.
//
// Thread-safe: free functions over immutable inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct x509_store_st;  // OpenSSL's X509_STORE

namespace p2pshare {

inline constexpr char kCentralCommonName[] = "p2pshare central";
inline constexpr char kPeerNamePrefix[] = "peer/";
// A peer certificate names its account in a subject alternative name too,
// as a URI (SPIFFE style): p2pshare://peer/<account>.
inline constexpr char kPeerUriPrefix[] = "p2pshare://peer/";

// A new EC P-256 private key, PEM (PKCS#8).
Result<std::string> NewPrivateKeyPem();
// The private key in `path`, made (EC P-256, mode 0600, atomically) when the
// file does not exist. Internal when it cannot be read, written or parsed.
Result<std::string> LoadOrCreatePrivateKey(const std::string& path);
// The public half of a private key, PEM (SubjectPublicKeyInfo).
Result<std::string> PublicKeyPem(const std::string& private_key_pem);

// A certificate signing request for `common_name`, signed with the key
// (which proves the requester holds it). PEM.
Result<std::string> MakeCsr(const std::string& private_key_pem, const std::string& common_name);
// The public key of a CSR whose signature verifies; InvalidArgument for a
// malformed request or a bad signature.
Result<std::string> CsrPublicKey(const std::string& csr_pem);

struct CertificateInfo {
  std::string common_name;
  std::string serial;       // lowercase hex
  int64_t not_before = 0;   // Unix seconds
  int64_t not_after = 0;
  std::string fingerprint;  // SHA-256 of the DER form, 64 lowercase hex digits
  bool is_ca = false;
  std::vector<std::string> uris;  // its subject alternative names of type URI
};
// The first certificate of `pem`; InvalidArgument when there is none.
Result<CertificateInfo> ReadCertificate(const std::string& pem);
// The certificates of a PEM bundle, in order (e.g. a served chain).
Result<std::vector<std::string>> SplitPemCertificates(const std::string& pem);

// Checks that `cert_pem` was issued by the CA `ca_pem` and is valid at
// `now_unix`. Unauthenticated, saying why, when it is not (expired, not yet
// valid, another CA's, not a certificate).
Result<CertificateInfo> VerifyCertificate(const std::string& cert_pem, const std::string& ca_pem,
                                          int64_t now_unix);

// Whether `cert_pem` certifies the public half of `private_key_pem`.
bool CertificateMatchesKey(const std::string& cert_pem, const std::string& private_key_pem);

// The account a peer certificate is for: its subject alternative name
// p2pshare://peer/<account>, which its common name ("peer/<account>") must
// agree with; nullopt for anything else (central's certificate, a CA, a
// certificate without that name, or whose names disagree).
std::optional<std::string> PeerUsername(const CertificateInfo& cert);

// Adds every certificate of the PEM bundle `pem` to `store` as trusted (a
// TLS client's roots); what is not a certificate is skipped, and this
// thread's OpenSSL error queue is left empty.
void AddPemCertificates(x509_store_st* store, const std::string& pem);


}  // namespace p2pshare
