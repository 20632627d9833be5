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

// Parses `text` as a JSON object. Errors: InvalidArgument "body is not valid
// JSON: ..." or "body must be a JSON object". Never throws.
Result<Json> ParseJsonObject(std::string_view text, std::string_view what = "body");

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
