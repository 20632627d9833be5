// Fuzz target: central's whole request path — HTTP parsing, the guards,
// every route's query string and JSON body — on a real Directory over a
// real SQLite file, without sockets (HttpApi::ServeBuffer).
//
// Input: the first byte picks a route; the rest is that route's JSON body
// (or query string), sent with a valid token. Byte 0 = 0 sends the rest as
// raw bytes on the wire instead. Oracle: every reply is HTTP with a status
// line, never 500, and every non-empty body is JSON.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "central/directory.h"
#include "central/http_api.h"
#include "central/store/directory_store.h"
#include "common/json_fields.h"

namespace {

using namespace p2pshare;
using namespace p2pshare::central;

struct Route {
  const char* method;
  const char* path;  // a '?' or trailing '/' takes the input as query or path
};
constexpr Route kRoutes[] = {
    {"POST", "/api/v1/register"},   {"POST", "/api/v1/login"},  {"POST", "/api/v1/heartbeat"},
    {"PUT", "/api/v1/index"},       {"PATCH", "/api/v1/index"}, {"GET", "/api/v1/search?"},
    {"GET", "/api/v1/files/"},      {"GET", "/api/v1/peers?"},  {"POST", "/api/v1/upload-target"},
    {"POST", "/api/v1/verify"},     {"GET", "/api/v1/stats?"},  {"POST", "/api/v1/logout"},
    {"GET", "/api/v1/events?"},     {"GET", "/metrics?"},
};

[[noreturn]] void Bug(const std::string& what, const std::string& request, const std::string& reply) {
  std::fprintf(stderr, "BUG: %s\n--- request ---\n%s\n--- reply ---\n%s\n", what.c_str(),
               request.c_str(), reply.c_str());
  std::abort();
}

// Bytes that cannot stand in a request line, percent-encoded.
std::string UrlSafe(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '#') {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

class Harness {
 public:
  Harness() {
    spdlog::set_level(spdlog::level::off);
    char tmpl[] = "/tmp/p2pshare-fuzz-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir_ = tmpl;
    auto store = DirectoryStore::Open((dir_ / "central.db").string());
    if (!store.ok()) std::abort();
    DirectoryOptions options;
    options.pbkdf2_iterations = 1;  // logins at fuzzing speed
    directory_ = std::make_unique<Directory>(std::move(store).value(), options);
    if (!directory_->Start(/*run_sweeper=*/false).ok()) std::abort();
    HttpApiOptions http;
    http.threads = 1;  // ServeBuffer runs on the fuzzer's thread
    api_ = std::make_unique<HttpApi>(directory_.get(), http);
    if (!directory_->Register("fuzzer", "fuzzer-password").ok()) std::abort();
    Relogin();
  }
  ~Harness() {
    api_.reset();
    directory_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Run(const uint8_t* data, size_t size) {
    if (size == 0) return;
    std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string request;
    if (data[0] == 0) {
      request = rest;
    } else {
      const Route& r = kRoutes[(data[0] - 1) % std::size(kRoutes)];
      std::string path = r.path;
      bool in_url = path.back() == '?' || path.back() == '/';
      if (in_url) path += UrlSafe(rest);
      request = std::string(r.method) + " " + path + " HTTP/1.1\r\nHost: fuzz\r\n" +
                "Authorization: Bearer " + token_ + "\r\n";
      if (!in_url || std::string(r.method) != "GET") {
        const std::string body = in_url ? "" : rest;
        request += "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body;
      } else {
        request += "\r\n";
      }
    }
    Check(request, api_->ServeBuffer(request));
    if (!directory_->Authenticate(token_).ok()) Relogin();  // after a logout
  }

 private:
  void Relogin() {
    LoginRequest login;
    login.username = "fuzzer";
    login.password = "fuzzer-password";
    int64_t retry = 0;
    auto reply = directory_->Login(login, "127.0.0.1", &retry);
    if (!reply.ok()) std::abort();
    token_ = reply->token;
  }

  static void Check(const std::string& request, const std::string& reply) {
    size_t at = 0;
    while (at < reply.size()) {
      if (reply.compare(at, 9, "HTTP/1.1 ") != 0) Bug("reply without a status line", request, reply);
      int status = std::atoi(reply.c_str() + at + 9);
      if (status < 200 || status > 599) Bug("status out of range", request, reply);
      if (status == 500) Bug("500 internal error", request, reply);
      size_t head_end = reply.find("\r\n\r\n", at);
      if (head_end == std::string::npos) Bug("unterminated reply header", request, reply);
      std::string head = reply.substr(at, head_end - at);
      size_t cl = head.find("Content-Length: ");
      size_t len = cl == std::string::npos ? 0 : std::strtoull(head.c_str() + cl + 16, nullptr, 10);
      std::string body = reply.substr(head_end + 4, len);
      // Every body is JSON but the dashboard page's and the metrics'.
      bool text = head.find("Content-Type: text/html") != std::string::npos ||
                  head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos;
      if (!body.empty() && !text && !Json::accept(body)) Bug("body is not JSON", request, reply);
      at = head_end + 4 + len;
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<HttpApi> api_;
  std::string token_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness harness;  // one directory for the whole run
  harness.Run(data, size);
  return 0;
}
