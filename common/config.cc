#include "common/config.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace p2pshare {

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::CallForAllHelp& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s; see --help\n", app.get_name().empty() ? argv[0] : app.get_name().c_str(), e.what());
    return kExitUsage;
  }
  return std::nullopt;
}

namespace {

Result<Json> IntFromWord(const std::string& word) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
  if (ec != std::errc() || ptr != word.data() + word.size()) {
    return InvalidArgument("'" + word + "' is not an integer");
  }
  return Json(v);
}

Result<Json> BoolFromWord(const std::string& word) {
  if (word == "true" || word == "1" || word == "yes" || word == "on") return Json(true);
  if (word == "false" || word == "0" || word == "no" || word == "off") return Json(false);
  return InvalidArgument("'" + word + "' is not true or false");
}

Status CheckInt(const Json& v, int64_t min, int64_t max) {
  if (!v.is_number_integer()) return InvalidArgument("must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgument("is too large");
  }
  int64_t i = v.get<int64_t>();
  if (i < min || i > max) {
    return InvalidArgument("must be between " + std::to_string(min) + " and " +
                           std::to_string(max) + ", not " + std::to_string(i));
  }
  return Status::Ok();
}

}  // namespace

Result<int64_t> ParseByteRate(const std::string& text) {
  if (text.empty()) return InvalidArgument("needs a number");
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (...) {
    return InvalidArgument("'" + text + "' is not a rate like 800K or 10M");
  }
  const std::string unit = text.substr(used);
  double mult = 1;
  if (unit == "K" || unit == "k") mult = 1024;
  else if (unit == "M" || unit == "m") mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (!unit.empty()) return InvalidArgument("'" + text + "': unknown unit (K, M or G)");
  if (!(v * mult >= 1)) return InvalidArgument("must be at least 1 byte a second");
  if (v * mult > 9.0e18) return InvalidArgument("'" + text + "' is too large");
  return static_cast<int64_t>(v * mult);
}

std::string FlagName(const std::string& key) {
  std::string flag = "--" + key;
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

ConfigSchema::Key& ConfigSchema::Add(std::string key, std::string help,
                                     FlagKind kind) {
  Key k;
  k.name = std::move(key);
  k.help = std::move(help);
  k.flag_kind = kind;
  keys_.push_back(std::move(k));
  return keys_.back();
}

void ConfigSchema::Path(std::string key, std::string* target, std::string help) {
  String(std::move(key), target, std::move(help));
  keys_.back().path = true;
  keys_.back().type_name = "PATH";
}

void ConfigSchema::NoFlag(const std::string& key) {
  for (Key& k : keys_) {
    if (k.name == key) k.flag = false;
  }
}

std::string Wrap(const std::string& text, size_t width) {
  std::string out, line;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

namespace {

constexpr size_t kHelpNameColumns = 30;

class HelpFormatter : public CLI::Formatter {
 public:
  explicit HelpFormatter(std::string usage) : usage_(std::move(usage)) { column_width(kHelpNameColumns); }
  std::string make_usage(const CLI::App*, std::string) const override { return "Usage: " + usage_ + "\n"; }

 private:
  std::string usage_;
};

// A string key's kind of value, from its name.
std::string StringTypeName(const std::string& key) {
  if (key.ends_with("_url")) return "URL";
  if (key.ends_with("_host")) return "HOST";
  if (key.ends_with("_listen")) return "HOST:PORT";
  if (key.ends_with("_sha256")) return "HEX";
  if (key == "log_level") return "LEVEL";
  return "TEXT";
}

}  // namespace

void UseHelpLayout(CLI::App& app, std::string usage) {
  app.formatter(std::make_shared<HelpFormatter>(std::move(usage)));
}

namespace {

// `value` of a Path key from the config file in `dir`.
std::string ResolvePath(const std::string& value, const std::filesystem::path& dir) {
  if (value.empty() || value.find("://") != std::string::npos) return value;
  std::string scheme;
  std::string path = value;
  if (value.rfind("sqlite:", 0) == 0) {
    scheme = "sqlite:";
    path = value.substr(scheme.size());
  }
  if (path.empty() || std::filesystem::path(path).is_absolute()) return value;
  return scheme + (dir / path).lexically_normal().string();
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance && 2 * d < word.size()) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

void ConfigSchema::String(std::string key, std::string* target, std::string help,
                          std::vector<std::string> allowed) {
  Key& k = Add(std::move(key), std::move(help), FlagKind::kScalar);
  k.type_name = StringTypeName(k.name);
  k.default_text = *target;
  k.from_flag = [](const std::vector<std::string>& w) -> Result<Json> { return Json(w.at(0)); };
  k.apply = [target, allowed](const Json& v) -> Status {
    if (!v.is_string()) return InvalidArgument("must be a string");
    std::string s = v.get<std::string>();
    if (!allowed.empty()) {
      bool found = false;
      std::string list;
      for (const auto& a : allowed) {
        found |= (a == s);
        list += (list.empty() ? "" : ", ") + a;
      }
      if (!found) return InvalidArgument("must be one of " + list + ", not '" + s + "'");
    }
    *target = std::move(s);
    return Status::Ok();
  };
}

void ConfigSchema::Int(std::string key, int64_t* target, std::string help,
                       int64_t min, int64_t max) {
  Key& k = Add(std::move(key), std::move(help), FlagKind::kScalar);
  k.type_name = "N";
  k.default_text = std::to_string(*target);
  k.from_flag = [](const std::vector<std::string>& w) { return IntFromWord(w.at(0)); };
  k.apply = [target, min, max](const Json& v) -> Status {
    RETURN_IF_ERROR(CheckInt(v, min, max));
    *target = v.get<int64_t>();
    return Status::Ok();
  };
}

void ConfigSchema::Rate(std::string key, int64_t* target, std::string help) {
  Key& k = Add(std::move(key), std::move(help), FlagKind::kScalar);
  k.type_name = "RATE";
  k.default_text = std::to_string(*target);
  k.from_flag = [](const std::vector<std::string>& w) -> Result<Json> {
    if (IntFromWord(w.at(0)).ok()) return IntFromWord(w.at(0));
    return Json(w.at(0));
  };
  k.apply = [target](const Json& v) -> Status {
    if (v.is_number_integer()) {
      RETURN_IF_ERROR(CheckInt(v, 0, INT64_MAX));
      *target = v.get<int64_t>();
      return Status::Ok();
    }
    if (!v.is_string()) return InvalidArgument("must be bytes a second: a number or a string like \"8M\"");
    const std::string text = v.get<std::string>();
    if (text == "0") {
      *target = 0;
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(*target, ParseByteRate(text));
    return Status::Ok();
  };
}

void ConfigSchema::Bool(std::string key, bool* target, std::string help) {
  Key& k = Add(std::move(key), std::move(help), FlagKind::kScalar);
  k.type_name = "BOOL";
  k.default_text = *target ? "true" : "false";
  k.from_flag = [](const std::vector<std::string>& w) { return BoolFromWord(w.at(0)); };
  k.apply = [target](const Json& v) -> Status {
    if (!v.is_boolean()) return InvalidArgument("must be true or false");
    *target = v.get<bool>();
    return Status::Ok();
  };
}

void ConfigSchema::IntRange(std::string key, std::pair<int64_t, int64_t>* target,
                            std::string help, int64_t min, int64_t max) {
  Key& k = Add(std::move(key), std::move(help), FlagKind::kPair);
  k.type_name = "LO HI";
  k.default_text = std::to_string(target->first) + " " + std::to_string(target->second);
  k.from_flag = [](const std::vector<std::string>& w) -> Result<Json> {
    Json arr = Json::array();
    for (const auto& word : w) {
      ASSIGN_OR_RETURN(Json v, IntFromWord(word));
      arr.push_back(v);
    }
    return arr;
  };
  k.apply = [target, min, max](const Json& v) -> Status {
    if (!v.is_array() || v.size() != 2) return InvalidArgument("must be a list of two integers [low, high]");
    RETURN_IF_ERROR(CheckInt(v[0], min, max));
    RETURN_IF_ERROR(CheckInt(v[1], min, max));
    int64_t lo = v[0].get<int64_t>(), hi = v[1].get<int64_t>();
    if (lo > hi) return InvalidArgument("low end " + std::to_string(lo) + " is above high end " + std::to_string(hi));
    *target = {lo, hi};
    return Status::Ok();
  };
}

void ConfigSchema::StringList(std::string key, std::vector<std::string>* target,
                              std::string help, size_t max_items) {
  Key& k = Add(std::move(key), std::move(help), FlagKind::kCommaList);
  k.type_name = "LIST";
  for (const auto& item : *target) k.default_text += (k.default_text.empty() ? "" : ",") + item;
  k.from_flag = [](const std::vector<std::string>& w) -> Result<Json> { return Json(w); };
  k.apply = [target, max_items](const Json& v) -> Status {
    if (!v.is_array()) return InvalidArgument("must be a list of strings");
    if (v.size() > max_items) return InvalidArgument("holds at most " + std::to_string(max_items) + " items");
    std::vector<std::string> out;
    for (const auto& item : v) {
      if (!item.is_string()) return InvalidArgument("must be a list of strings");
      out.push_back(item.get<std::string>());
    }
    *target = std::move(out);
    return Status::Ok();
  };
}

void ConfigSchema::AddFlags(CLI::App& app, const std::function<bool(const std::string& key)>& include) {
  const size_t width = 80 - kHelpNameColumns - 1;
  for (Key& k : keys_) {
    if (!k.flag || (include && !include(k.name))) continue;
    std::string help = k.help;
    if (k.flag_kind == FlagKind::kCommaList) help += " (comma-separated)";
    help += k.default_text.empty() ? " (default: none)" : " (default: " + k.default_text + ")";
    help = Wrap(help, width);
    switch (k.flag_kind) {
      case FlagKind::kScalar:
        k.option = app.add_option(FlagName(k.name), k.flag_word, help);
        break;
      case FlagKind::kPair:
        k.option = app.add_option(FlagName(k.name), k.flag_words, help)
                       ->expected(2)
                       ->allow_extra_args(false);
        break;
      case FlagKind::kCommaList:
        k.option = app.add_option(FlagName(k.name), k.flag_word, help);
        break;
    }
    k.option->type_name(k.type_name);
  }
}

Status ConfigSchema::ApplyJson(const Json& object, const std::string& origin) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& name = it.key();
    Key* key = nullptr;
    for (Key& k : keys_) {
      if (k.name == name) key = &k;
    }
    if (key == nullptr) {
      auto close = DidYouMean(name, keys());
      return InvalidArgument(origin + ": unknown key '" + name + "'" +
                             (close ? "; did you mean '" + *close + "'?" : ""));
    }
    Status s = key->path && it.value().is_string() && !base_dir_.empty()
                   ? key->apply(Json(ResolvePath(it.value().get<std::string>(), base_dir_)))
                   : key->apply(it.value());
    if (!s.ok()) return InvalidArgument(origin + ": key '" + name + "' " + s.message());
  }
  return Status::Ok();
}

Status ConfigSchema::ApplyFlags() {
  for (Key& k : keys_) {
    if (k.option == nullptr || k.option->count() == 0) continue;
    std::string flag = FlagName(k.name);
    std::vector<std::string> words = k.flag_words;
    if (k.flag_kind == FlagKind::kScalar) words = {k.flag_word};
    if (k.flag_kind == FlagKind::kCommaList) {
      words.clear();
      std::stringstream list(k.flag_word);
      for (std::string item; std::getline(list, item, ',');) {
        if (!item.empty()) words.push_back(item);
      }
    }
    auto value = k.from_flag(words);
    if (!value.ok()) return InvalidArgument(flag + ": " + value.status().message());
    Status s = k.apply(*value);
    if (!s.ok()) return InvalidArgument(flag + ": " + s.message());
  }
  return Status::Ok();
}

Status ConfigSchema::Load(const std::string& path) {
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) return InvalidArgument("config " + path + ": cannot be opened");
    std::stringstream text;
    text << in.rdbuf();
    Json object;
    try {
      object = Json::parse(text.str());
    } catch (const Json::parse_error& e) {
      // "[json.exception.parse_error.101] parse error at line 3, column 5: …"
      std::string what = e.what();
      if (size_t at = what.find("parse error"); at != std::string::npos) what = what.substr(at);
      return InvalidArgument("config " + path + " is not valid JSON: " + what);
    }
    if (!object.is_object()) return InvalidArgument("config " + path + " must be a JSON object");
    base_dir_ = std::filesystem::absolute(path).parent_path();
    Status applied = ApplyJson(object, "config " + path);
    base_dir_.clear();
    RETURN_IF_ERROR(applied);
  }
  return ApplyFlags();
}

}  // namespace p2pshare
