#include "central/store/directory_store.h"

#include <cstdio>

#include "central/store/postgres_store.h"
#include "central/store/sqlite_store.h"

namespace p2pshare::central {

bool IsPostgresUrl(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<DirectoryStore>> DirectoryStore::Open(const std::string& url) {
  if (IsPostgresUrl(url)) {
    ASSIGN_OR_RETURN(auto store, PostgresStore::Open(url));
    return std::unique_ptr<DirectoryStore>(std::move(store));
  }
  const std::string scheme = "sqlite:";
  std::string path = url.rfind(scheme, 0) == 0 ? url.substr(scheme.size()) : url;
  if (path.empty()) return InvalidArgument("store URL '" + url + "' names no file");
  ASSIGN_OR_RETURN(auto store, SqliteStore::Open(path));
  return std::unique_ptr<DirectoryStore>(std::move(store));
}

std::string RedactedStoreUrl(const std::string& url) {
  if (!IsPostgresUrl(url)) return url;
  std::string out = url;
  // postgresql://user:SECRET@host...
  const size_t scheme_end = out.find("://") + 3;
  const size_t at = out.find('@', scheme_end);
  const size_t colon = out.find(':', scheme_end);
  if (at != std::string::npos && colon != std::string::npos && colon < at) {
    out.replace(colon + 1, at - colon - 1, "***");
  }
  // ...?password=SECRET&...
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    const size_t start = p + 9;
    const size_t end = out.find('&', start);
    out.replace(start, (end == std::string::npos ? out.size() : end) - start, "***");
  }
  return out;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string QueryToGlob(const std::string& query) {
  std::string glob = query.empty() || query.front() != '*' ? "*" : "";
  for (char c : AsciiLower(query)) {
    if (c == '[') {
      glob += "[[]";
    } else {
      glob += c;  // '*' and '?' stay wildcards; ']' is literal outside [...]
    }
  }
  if (glob.back() != '*') glob += '*';
  return glob;
}

std::string SeenToText(const std::vector<uint64_t>& seen) {
  std::string out;
  out.reserve(seen.size() * 16);
  char buf[17];
  for (uint64_t v : seen) {
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    out += buf;
  }
  return out;
}

std::vector<uint64_t> SeenFromText(const std::string& text) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i + 16 <= text.size(); i += 16) out.push_back(std::stoull(text.substr(i, 16), nullptr, 16));
  return out;
}

Status TooManyWishes(const std::string& which) {
  return ResourceExhausted("too many wishes " + which + "; remove one first ('wish --remove N')", "too_many_wishes");
}

}  // namespace p2pshare::central
