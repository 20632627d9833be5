// Fuzz target: the naming rules (docs/protocol.md) and the search pattern.
//
// Oracle: a name CheckFileName() accepts can never leave the shared folder
// (lexically: no "..", ".", empty or absolute parts, no NUL or control
// bytes, within the length limits); accepted usernames use only their
// alphabet; QueryToGlob() never throws and keeps its pattern bounded.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "central/store/directory_store.h"
#include "common/names.h"

namespace {

[[noreturn]] void Bug(const char* what, std::string_view input) {
  std::fprintf(stderr, "BUG: %s for input of %zu bytes\n", what, input.size());
  std::abort();
}

void CheckAcceptedFileName(std::string_view name) {
  if (name.empty() || name.size() > p2pshare::kMaxFileNameBytes) Bug("accepted length", name);
  if (name.front() == '/' || name.back() == '/') Bug("accepted a leading or trailing '/'", name);
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") Bug("accepted an empty, . or .. part", name);
    if (part.size() > p2pshare::kMaxComponentBytes) Bug("accepted a long part", name);
    start = end + 1;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) Bug("accepted a control byte", name);
  }
  // Joined to a shared folder, the name stays inside it.
  const std::filesystem::path root = "/srv/shared";
  std::filesystem::path joined = (root / std::string(name)).lexically_normal();
  auto rel = joined.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") Bug("accepted a name that leaves the folder", name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (p2pshare::CheckFileName(input).ok()) CheckAcceptedFileName(input);
  if (p2pshare::CheckUsername(input).ok()) {
    if (input.empty() || input.size() > 32) Bug("accepted username length", input);
    for (char c : input) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-';
      if (!ok) Bug("accepted username character", input);
    }
  }
  if (p2pshare::IsSha256Hex(input) && size != 64) Bug("accepted a hash of the wrong length", input);
  std::string glob = p2pshare::central::QueryToGlob(std::string(input));
  if (glob.size() > 4 * size + 4) Bug("glob pattern grew out of bounds", input);
  return 0;
}
