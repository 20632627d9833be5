// Typed reads of JSON objects whose errors name the field: the one place
// that turns nlohmann-json's loose values into checked fields, for request
// bodies (central), replies (DirectoryClient) and config files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace p2pshare {

using Json = nlohmann::json;

// What parsing a JSON text would build, found by one pass over its bytes
// before anything is built: how deeply it nests, and an estimate of the
// bytes the parsed tree takes (nlohmann-json on glibc: an object ~96 bytes
// and each member ~100 more, an array ~64, a scalar 16, a string 48 plus
// its length). A 1 MiB body of `[{},{},…]` parses to ~29 MiB; an index
// body of 1 MiB to ~4 MiB.
struct JsonShape {
  int depth = 0;     // of the deepest container (0: a scalar)
  int64_t cost = 0;  // estimated bytes, parsed
};
JsonShape MeasureJson(std::string_view text);

// The bounds ParseJsonObject keeps (docs/protocol.md, "Limits"): what no
// request of ours comes near, refused before the tree is built.
inline constexpr int kMaxJsonDepth = 32;
inline constexpr int64_t kMaxJsonCost = int64_t{12} << 20;

// Parses `text` as a JSON object. Errors: InvalidArgument "body is not valid
// JSON", "body must be a JSON object", "body is nested deeper than 32
// levels", "body has too many values"; the last two before anything is
// built. Pass `shape` when MeasureJson(text) is known already. Never throws.
Result<Json> ParseJsonObject(std::string_view text, std::string_view what = "body",
                             const JsonShape* shape = nullptr);

// Reads fields of one JSON object. `path` prefixes field names in messages
// ("files[2].size must be an integer"). Errors are InvalidArgument with
// reason "bad_request". The object must outlive the reader.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path = "");

  Result<std::string> String(std::string_view key) const;
  Result<std::optional<std::string>> OptionalString(std::string_view key) const;
  Result<int64_t> Int(std::string_view key) const;
  Result<std::optional<int64_t>> OptionalInt(std::string_view key) const;
  Result<bool> Bool(std::string_view key) const;
  Result<std::optional<bool>> OptionalBool(std::string_view key) const;
  // The array under `key`; an error when missing or not an array.
  Result<const Json*> Array(std::string_view key) const;
  Result<const Json*> OptionalArray(std::string_view key) const;  // nullptr if absent

  // "files[2].size" for key "size".
  std::string Name(std::string_view key) const;

 private:
  const Json* Find(std::string_view key) const;
  const Json& object_;
  std::string path_;
};

// The error for a field of the wrong type: "<name> must be <what>".
Status BadField(const std::string& name, std::string_view what);

}  // namespace p2pshare
