#include "common/x509.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "common/hex.h"
#include "common/openssl_ptr.h"
#include "common/small_files.h"

namespace p2pshare {
namespace {

using openssl::Bio;
using openssl::Cert;
using openssl::Key;
using openssl::Req;
using openssl::Store;
using openssl::StoreCtx;


// The last OpenSSL error as text (and the error queue cleared).
std::string SslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Bio MemBio(const std::string& s) {
  return Bio(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<Key> ReadKey(const std::string& pem) {
  Bio bio = MemBio(pem);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgument("not a private key: " + SslError());
  return key;
}

Result<Cert> ReadCert(const std::string& pem) {
  Bio bio = MemBio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return InvalidArgument("not a PEM certificate");
  }
  return cert;
}

int64_t UnixTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string CommonName(X509_NAME* name) {
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

CertificateInfo Describe(X509* cert) {
  CertificateInfo info;
  info.common_name = CommonName(X509_get_subject_name(cert));
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn != nullptr) {
    std::vector<uint8_t> bytes(static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2bin(bn, bytes.data());
    info.serial = HexEncode(bytes);
    BN_free(bn);
  }
  info.not_before = UnixTime(X509_get0_notBefore(cert));
  info.not_after = UnixTime(X509_get0_notAfter(cert));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) info.fingerprint = HexEncode(md, len);
  info.is_ca = X509_check_ca(cert) > 0;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = n->d.uniformResourceIdentifier;
    info.uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                           static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return info;
}

}  // namespace

Result<std::string> NewPrivateKeyPem() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return Internal("cannot make a key: " + SslError());
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("cannot write a key: " + SslError());
  }
  return BioText(out.get());
}

Result<std::string> LoadOrCreatePrivateKey(const std::string& path) {
  auto existing = ReadSmallFile(path);
  if (existing.ok()) {
    RETURN_IF_ERROR(ReadKey(*existing).status().WithContext(path));
    return *existing;
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();
  ASSIGN_OR_RETURN(std::string pem, NewPrivateKeyPem());
  // When two processes of one peer start at once, one key wins and the
  // other reads it (never a half-written one).
  Status created = CreateFileOnce(path, pem, 0600);
  if (created.code() == Code::kAlreadyExists) return LoadOrCreatePrivateKey(path);
  RETURN_IF_ERROR(created);
  return pem;
}

Result<std::string> PublicKeyPem(const std::string& private_key_pem) {
  ASSIGN_OR_RETURN(Key key, ReadKey(private_key_pem));
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(out.get(), key.get()) != 1) return Internal(SslError());
  return BioText(out.get());
}

Result<std::string> MakeCsr(const std::string& private_key_pem, const std::string& common_name) {
  ASSIGN_OR_RETURN(Key key, ReadKey(private_key_pem));
  Req req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return Internal("cannot make a certificate request: " + SslError());
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) return Internal(SslError());
  return BioText(out.get());
}

Result<std::string> CsrPublicKey(const std::string& csr_pem) {
  Bio bio = MemBio(csr_pem);
  Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    ERR_clear_error();
    return InvalidArgument("field 'csr' is not a PEM certificate request");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return InvalidArgument("field 'csr': its signature does not match its key");
  }
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 256) {
    return InvalidArgument("field 'csr': the key must be EC P-256");
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(out.get(), key) != 1) return Internal(SslError());
  return BioText(out.get());
}

Result<CertificateInfo> ReadCertificate(const std::string& pem) {
  ASSIGN_OR_RETURN(Cert cert, ReadCert(pem));
  return Describe(cert.get());
}

Result<std::vector<std::string>> SplitPemCertificates(const std::string& pem) {
  std::vector<std::string> out;
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  size_t pos = 0;
  for (;;) {
    size_t begin = pem.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    size_t end = pem.find(kEnd, begin);
    if (end == std::string::npos) return InvalidArgument("a certificate without its end line");
    out.push_back(pem.substr(begin, end + kEnd.size() - begin) + "\n");
    pos = end + kEnd.size();
  }
  if (out.empty()) return InvalidArgument("no certificate in the PEM text");
  return out;
}

Result<CertificateInfo> VerifyCertificate(const std::string& cert_pem, const std::string& ca_pem,
                                          int64_t now_unix) {
  auto cert = ReadCert(cert_pem);
  if (!cert.ok()) return Unauthenticated("the certificate cannot be read");
  ASSIGN_OR_RETURN(Cert ca, ReadCert(ca_pem));
  Store store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  StoreCtx ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr) != 1) {
    return Internal("cannot check a certificate: " + SslError());
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now_unix));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    const char* why = X509_verify_cert_error_string(err);
    if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || err == X509_V_ERR_CERT_SIGNATURE_FAILURE) {
      return Unauthenticated(std::string("the certificate is not from this network's CA (") + why +
                             ")");
    }
    return Unauthenticated(std::string("the certificate is not valid: ") + why);
  }
  return Describe(cert->get());
}

bool CertificateMatchesKey(const std::string& cert_pem, const std::string& private_key_pem) {
  auto cert = ReadCert(cert_pem);
  auto key = ReadKey(private_key_pem);
  bool match = cert.ok() && key.ok() && X509_check_private_key(cert->get(), key->get()) == 1;
  ERR_clear_error();
  return match;
}

std::optional<std::string> PeerUsername(const CertificateInfo& cert) {
  std::string_view prefix(kPeerNamePrefix);
  if (cert.is_ca || cert.common_name.size() <= prefix.size() ||
      cert.common_name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  const std::string account = cert.common_name.substr(prefix.size());
  // The identity is in the subject alternative name (one peer URI, no
  // other), and the common name must say the same.
  std::optional<std::string> named;
  for (const std::string& uri : cert.uris) {
    if (!uri.starts_with(kPeerUriPrefix) || named) return std::nullopt;
    named = uri.substr(std::string_view(kPeerUriPrefix).size());
  }
  if (!named || *named != account) return std::nullopt;
  return account;
}


void AddPemCertificates(X509_STORE* store, const std::string& pem) {
  Bio bio = MemBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  }
  ERR_clear_error();  // the end of the bundle reads as an error
}

}  // namespace p2pshare
