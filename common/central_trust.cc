#include "common/central_trust.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <charconv>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/host_port.h"
#include "common/small_files.h"
#include "common/x509.h"

namespace p2pshare {
namespace {

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// The CA central presents at `url`, checked: a CA that signed central's own
// certificate.
Result<std::string> PresentedCa(const UrlParts& url) {
  auto chain = PresentedChain(url.host, url.port);
  if (!chain.ok()) return chain.status();
  if (chain->size() < 2) {
    return FailedPrecondition("central at " + JoinHostPort(url.host, url.port) +
                              " presents no CA with its certificate; is it a p2pshare central?");
  }
  const std::string& ca = chain->back();
  ASSIGN_OR_RETURN(CertificateInfo info, ReadCertificate(ca));
  auto leaf = VerifyCertificate(chain->front(), ca, static_cast<int64_t>(std::time(nullptr)));
  if (!info.is_ca || !leaf.ok() || leaf->common_name != kCentralCommonName) {
    return FailedPrecondition("the server at " + JoinHostPort(url.host, url.port) +
                              " does not present a p2pshare central's certificate");
  }
  return ca;
}

Status CheckFingerprint(const std::string& ca_pem, const std::string& want,
                        const std::string& where) {
  if (want.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(CertificateInfo info, ReadCertificate(ca_pem));
  if (info.fingerprint != want) {
    return FailedPrecondition(
        "the CA " + where + " has sha256 " + info.fingerprint + ", not the central_ca_sha256 of the config (" +
            want + "). Either the config has a mistyped fingerprint (copy it from the 'CA sha256' line central "
            "logs when it starts, or ask whoever runs central), or this is not the central you meant: check "
            "central_url; connect only once the two agree",
        "ca_mismatch");
  }
  return Status::Ok();
}

}  // namespace

Result<UrlParts> ParseCentralUrl(const std::string& url) {
  UrlParts out;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    out.https = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return InvalidArgument("'" + url + "' is not an http:// or https:// URL");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) {
    return InvalidArgument("'" + url + "' must be scheme://host:port, without a path");
  }
  const int default_port = out.https ? 443 : 80;
  auto with_port = ParseHostPort(rest);
  if (with_port.ok()) {
    out.host = with_port->host;
    out.port = with_port->port;
    return out;
  }
  // No port: the scheme's. A bare name or a bracketed IPv6 literal.
  std::string host = rest;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find_first_of(" []/") != std::string::npos ||
      (host.find(':') != std::string::npos && rest.front() != '[')) {
    return InvalidArgument("'" + url + "' has no valid host");
  }
  out.host = host;
  out.port = default_port;
  return out;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

Result<std::vector<std::string>> PresentedChain(const std::string& host, int port,
                                                int timeout_ms) {
  int fd = ConnectTcp(host, port, timeout_ms);
  if (fd < 0) {
    return Unavailable("central at " + JoinHostPort(host, port) + " is unreachable", "unreachable");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // looked at, not trusted
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  std::vector<std::string> out;
  if (SSL_connect(ssl) == 1) {
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      out.push_back(Pem(sk_X509_value(chain, i)));
    }
    (void)SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  if (out.empty()) {
    return Unavailable("central at " + JoinHostPort(host, port) +
                           " did not complete a TLS handshake (is it serving plain HTTP?)",
                       "unreachable");
  }
  return out;
}

Result<CentralTrust> ResolveCentralTrust(const std::string& central_url,
                                         const std::string& central_ca,
                                         const std::string& ca_sha256,
                                         const std::string& pin_path,
                                         const ConfirmCentralCa& confirm) {
  ASSIGN_OR_RETURN(UrlParts url, ParseCentralUrl(central_url));
  CentralTrust trust;
  if (!url.https) return trust;
  if (!central_ca.empty()) {
    auto pem = ReadSmallFile(central_ca);
    if (!pem.ok()) return pem.status().WithContext("key 'central_ca'");
    RETURN_IF_ERROR(ReadCertificate(*pem).status().WithContext("key 'central_ca' " + central_ca));
    RETURN_IF_ERROR(CheckFingerprint(*pem, ca_sha256, "in " + central_ca));
    trust.ca_pem = *pem;
    trust.ca_source = central_ca;
    return trust;
  }
  auto pinned = ReadSmallFile(pin_path);
  if (pinned.ok()) {
    RETURN_IF_ERROR(CheckFingerprint(*pinned, ca_sha256, "pinned in " + pin_path));
    trust.ca_pem = *pinned;
    trust.ca_source = "pinned in " + pin_path;
    return trust;
  }
  // Trust on first use: what central presents now, checked as far as the
  // config allows, then pinned.
  ASSIGN_OR_RETURN(std::string ca, PresentedCa(url));
  RETURN_IF_ERROR(CheckFingerprint(ca, ca_sha256, "central presents"));
  ASSIGN_OR_RETURN(CertificateInfo presented, ReadCertificate(ca));
  if (ca_sha256.empty() && confirm && !confirm(presented.fingerprint)) {
    return Status(Code::kFailedPrecondition,
                  "central's CA (sha256 " + presented.fingerprint +
                      ") was not trusted, so nothing was sent to it; once you know it is central's, put "
                      "that fingerprint in central_ca_sha256 (or central's ca.pem in central_ca)",
                  "untrusted_central");
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(pin_path).parent_path(), ec);
  RETURN_IF_ERROR(WriteFileAtomically(pin_path, ca, 0644));
  ASSIGN_OR_RETURN(CertificateInfo info, ReadCertificate(ca));
  trust.ca_pem = ca;
  trust.ca_source = "pinned in " + pin_path;
  trust.note = "trusting central's CA sha256 " + info.fingerprint + " from now on" +
               (ca_sha256.empty() ? " (first use: compare it with central's log)" : "") +
               "; pinned in " + pin_path;
  return trust;
}

}  // namespace p2pshare
