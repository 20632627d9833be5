#include "common/json_fields.h"

#include <algorithm>

namespace p2pshare {

JsonShape MeasureJson(std::string_view text) {
  JsonShape shape;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      } else {
        ++shape.cost;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        shape.cost += 48;
        break;
      case '{':
        shape.cost += 96;
        shape.depth = std::max(shape.depth, ++depth);
        break;
      case '[':
        shape.cost += 64;
        shape.depth = std::max(shape.depth, ++depth);
        break;
      case '}':
      case ']':
        depth = std::max(0, depth - 1);
        break;
      case ':':
        shape.cost += 100;  // an object's member (its key was counted as a string)
        break;
      case ',':
        shape.cost += 16;  // the next element's slot
        break;
      default:
        break;
    }
  }
  return shape;
}

Result<Json> ParseJsonObject(std::string_view text, std::string_view what, const JsonShape* shape) {
  const JsonShape measured = shape != nullptr ? *shape : MeasureJson(text);
  if (measured.depth > kMaxJsonDepth) {
    return InvalidArgument(std::string(what) + " is nested deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels");
  }
  if (measured.cost > kMaxJsonCost) {
    return InvalidArgument(std::string(what) + " has too many values (about " +
                           std::to_string(measured.cost >> 20) + " MiB parsed; at most " +
                           std::to_string(kMaxJsonCost >> 20) + ")");
  }
  Json parsed = Json::parse(text.begin(), text.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return InvalidArgument(std::string(what) + " is not valid JSON");
  }
  if (!parsed.is_object()) {
    return InvalidArgument(std::string(what) + " must be a JSON object");
  }
  return parsed;
}

Status BadField(const std::string& name, std::string_view what) {
  return InvalidArgument("field '" + name + "' must be " + std::string(what));
}

FieldReader::FieldReader(const Json& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string FieldReader::Name(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const Json* FieldReader::Find(std::string_view key) const {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> FieldReader::String(std::string_view key) const {
  ASSIGN_OR_RETURN(auto value, OptionalString(key));
  if (!value) return InvalidArgument("field '" + Name(key) + "' is required");
  return *value;
}

Result<std::optional<std::string>> FieldReader::OptionalString(
    std::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return BadField(Name(key), "a string");
  return std::optional<std::string>(v->get<std::string>());
}

Result<int64_t> FieldReader::Int(std::string_view key) const {
  ASSIGN_OR_RETURN(auto value, OptionalInt(key));
  if (!value) return InvalidArgument("field '" + Name(key) + "' is required");
  return *value;
}

Result<std::optional<int64_t>> FieldReader::OptionalInt(
    std::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return BadField(Name(key), "an integer below 2^63");
    }
    return std::optional<int64_t>(v->get<int64_t>());
  }
  return BadField(Name(key), "an integer");
}

Result<bool> FieldReader::Bool(std::string_view key) const {
  ASSIGN_OR_RETURN(auto value, OptionalBool(key));
  if (!value) return InvalidArgument("field '" + Name(key) + "' is required");
  return *value;
}

Result<std::optional<bool>> FieldReader::OptionalBool(std::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return BadField(Name(key), "true or false");
  return std::optional<bool>(v->get<bool>());
}

Result<const Json*> FieldReader::Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const Json* v, OptionalArray(key));
  if (v == nullptr) return InvalidArgument("field '" + Name(key) + "' is required");
  return v;
}

Result<const Json*> FieldReader::OptionalArray(std::string_view key) const {
  const Json* v = Find(key);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_array()) return BadField(Name(key), "an array");
  return v;
}

}  // namespace p2pshare
