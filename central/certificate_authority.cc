#include "central/certificate_authority.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "common/hex.h"
#include "common/openssl_ptr.h"
#include "common/small_files.h"
#include "common/x509.h"

namespace p2pshare::central {
namespace {

using openssl::Bio;
using openssl::Cert;
using openssl::Key;

constexpr int64_t kCaLifetimeS = int64_t{20} * 365 * 86400;
constexpr int64_t kServerLifetimeS = int64_t{2} * 365 * 86400;
constexpr int64_t kClockSkewS = 60;

std::string SslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<Key> ParseKey(const std::string& pem, bool is_private) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (k == nullptr) return InvalidArgument("not a key: " + SslError());
  return Key(k);
}

Result<Cert> ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (c == nullptr) return InvalidArgument("not a certificate: " + SslError());
  return Cert(c);
}

std::string Pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

struct Spec {
  std::string common_name;
  int64_t not_before;
  int64_t not_after;
  std::vector<std::pair<int, std::string>> extensions;  // nid, OpenSSL config value
};

// A certificate for `subject_key` signed by `issuer_key` (self-signed when
// `issuer` is null).
Result<Cert> Sign(const Spec& spec, EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  std::vector<uint8_t> serial = RandomBytes(16);
  serial[0] &= 0x7f;  // a positive integer
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  X509_set_pubkey(cert.get(), subject_key);
  for (const auto& [nid, value] : spec.extensions) {
    if (!AddExtension(cert.get(), signer, nid, value)) {
      return Internal("cannot add a certificate extension: " + SslError());
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return Internal("cannot sign a certificate: " + SslError());
  }
  return cert;
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

struct CertificateAuthority::Keys {
  Key ca_key;
  Cert ca_cert;
};

CertificateAuthority::~CertificateAuthority() = default;

std::vector<std::string> DefaultServerNames(const std::string& listen_host) {
  std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') names.push_back(host);
  if (!listen_host.empty() && listen_host != "0.0.0.0" && listen_host != "::") {
    names.push_back(listen_host);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<CaPemPair> CertificateAuthority::MakeCa() {
  ASSIGN_OR_RETURN(std::string key_pem, NewPrivateKeyPem());
  ASSIGN_OR_RETURN(Key key, ParseKey(key_pem, true));
  Spec spec{"p2pshare network CA " + RandomHex(4), Now() - kClockSkewS, Now() + kCaLifetimeS,
            {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
             {NID_key_usage, "critical,keyCertSign,cRLSign"},
             {NID_subject_key_identifier, "hash"}}};
  ASSIGN_OR_RETURN(Cert cert, Sign(spec, key.get(), nullptr, key.get()));
  return CaPemPair{key_pem, Pem(cert.get())};
}

Result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Open(
    const std::string& dir, const std::vector<std::string>& server_names) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const std::string key_path = dir + "/ca.key", cert_path = dir + "/ca.pem";
  auto cert_pem = ReadSmallFile(cert_path);
  if (cert_pem.ok()) {
    ASSIGN_OR_RETURN(std::string key_pem, ReadSmallFile(key_path));
    auto ca = FromPems(CaPemPair{key_pem, *cert_pem}, server_names);
    if (!ca.ok()) return ca.status().WithContext(key_path + ", " + cert_path);
    return ca;
  }
  if (cert_pem.status().code() != Code::kNotFound) return cert_pem.status();
  // The first start: the key first (0600), then the certificate, so a
  // crash between the two leaves a key that the next start replaces.
  ASSIGN_OR_RETURN(CaPemPair made, MakeCa());
  RETURN_IF_ERROR(WriteFileAtomically(key_path, made.key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomically(cert_path, made.cert_pem, 0644));
  spdlog::info("made the network's certificate authority in {}", dir);
  return FromPems(made, server_names);
}

Result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::FromPems(
    const CaPemPair& pems, const std::vector<std::string>& server_names) {
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->keys_ = std::make_unique<Keys>();
  ASSIGN_OR_RETURN(ca->keys_->ca_key, ParseKey(pems.key_pem, true));
  ASSIGN_OR_RETURN(ca->keys_->ca_cert, ParseCert(pems.cert_pem));
  if (X509_check_private_key(ca->keys_->ca_cert.get(), ca->keys_->ca_key.get()) != 1) {
    return Internal("the CA's key is not the key of its certificate");
  }
  ca->ca_pem_ = pems.cert_pem;
  ASSIGN_OR_RETURN(CertificateInfo info, ReadCertificate(ca->ca_pem_));
  ca->fingerprint_ = info.fingerprint;

  // Central's own TLS identity, new at every start.
  ASSIGN_OR_RETURN(ca->server_key_pem_, NewPrivateKeyPem());
  ASSIGN_OR_RETURN(Key server_key, ParseKey(ca->server_key_pem_, true));
  std::string san;
  for (const std::string& n : server_names) {
    san += (san.empty() ? "" : ",") + std::string(IsIpLiteral(n) ? "IP:" : "DNS:") + n;
  }
  Spec spec{kCentralCommonName, Now() - kClockSkewS, Now() + kServerLifetimeS,
            {{NID_basic_constraints, "critical,CA:FALSE"},
             {NID_key_usage, "critical,digitalSignature"},
             {NID_ext_key_usage, "serverAuth"},
             {NID_authority_key_identifier, "keyid"}}};
  if (!san.empty()) spec.extensions.push_back({NID_subject_alt_name, san});
  ASSIGN_OR_RETURN(Cert server, Sign(spec, server_key.get(), ca->keys_->ca_cert.get(),
                                     ca->keys_->ca_key.get()));
  ca->server_chain_pem_ = Pem(server.get()) + ca->ca_pem_;
  return ca;
}

Result<IssuedCertificate> CertificateAuthority::IssuePeer(const std::string& username,
                                                          const std::string& public_key_pem,
                                                          int64_t lifetime_s) const {
  ASSIGN_OR_RETURN(Key key, ParseKey(public_key_pem, false));
  const int64_t now = Now();
  // (A lifetime already over gives a certificate that has expired: tests.)
  Spec spec{kPeerNamePrefix + username, std::min(now, now + lifetime_s) - kClockSkewS,
            now + lifetime_s,
            {{NID_basic_constraints, "critical,CA:FALSE"},
             {NID_key_usage, "critical,digitalSignature"},
             {NID_ext_key_usage, "serverAuth,clientAuth"},
             {NID_subject_alt_name, std::string("URI:") + kPeerUriPrefix + username},
             {NID_authority_key_identifier, "keyid"}}};
  ASSIGN_OR_RETURN(Cert cert, Sign(spec, key.get(), keys_->ca_cert.get(), keys_->ca_key.get()));
  IssuedCertificate out;
  out.pem = Pem(cert.get());
  ASSIGN_OR_RETURN(CertificateInfo info, ReadCertificate(out.pem));
  out.serial = info.serial;
  out.not_after = info.not_after;
  return out;
}

}  // namespace p2pshare::central
