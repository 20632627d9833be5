// ConfigSchema: the keys of one program's JSON config, each with a default
// (the target's initial value), a check, and a CLI11 flag of the same name
// (`session_ttl_s` -> `--session-ttl-s`). Flags beat the file. The first bad
// key stops loading with a one-line error naming it.
//
// Usage (in a thin main):
//   MyConfig cfg; ConfigSchema schema; DescribeMyConfig(schema, &cfg);
//   schema.AddFlags(app); app.parse(argc, argv);
//   Status s = schema.Load(config_path);   // file (if any), then flags
//
// Not thread-safe; used once at start-up.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/json_fields.h"
#include "common/status.h"

namespace p2pshare {

// "500000", "800K", "10M", "1.5G" (binary units) as bytes a second; at
// least 1. The message does not name the flag or key.
Result<int64_t> ParseByteRate(const std::string& text);

// The exit codes of all three programs (docs/protocol.md, "Exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the command or the server failed
inline constexpr int kExitUsage = 2;   // a command line or config that does not parse or check

// Parses the command line. nullopt to go on; otherwise the program exits
// with the value: kExitOk after --help or --version (printed), kExitUsage
// after "<program>: <what is wrong>; see --help" on stderr.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

class ConfigSchema {
 public:
  // A string; when `allowed` is not empty the value must be one of them.
  void String(std::string key, std::string* target, std::string help,
              std::vector<std::string> allowed = {});
  // An integer in [min, max].
  void Int(std::string key, int64_t* target, std::string help, int64_t min,
           int64_t max);
  void Bool(std::string key, bool* target, std::string help);
  // A file or folder. Relative in a config file: against that file's folder
  // (so a config works from any working directory); relative in a flag:
  // against the working directory, as a shell user expects. A value with a
  // scheme ("sqlite:<path>": the path part; "postgresql://…": none) keeps it.
  void Path(std::string key, std::string* target, std::string help);
  // Bytes a second: a number, or a string like "800K", "10M", "1G"
  // (binary units, ParseByteRate); 0 means no limit.
  void Rate(std::string key, int64_t* target, std::string help);
  // Two integers [lo, hi] with min <= lo <= hi <= max.
  void IntRange(std::string key, std::pair<int64_t, int64_t>* target,
                std::string help, int64_t min, int64_t max);
  // A list of strings, at most `max_items`.
  void StringList(std::string key, std::vector<std::string>* target,
                  std::string help, size_t max_items);

  // Registers `--key-with-dashes` for every key on `app` but those
  // `include` (when set) leaves out and those set by file only (NoFlag),
  // each with its kind of value and its default in the help, wrapped to fit
  // 80 columns (UseHelpLayout).
  void AddFlags(CLI::App& app, const std::function<bool(const std::string& key)>& include = nullptr);
  // `key` is read from the file (or the environment) only, never a flag:
  // for secrets, which a command line shows to everyone in `ps`.
  void NoFlag(const std::string& key);

  // Reads `path` (skipped when empty) and then the flags given on the
  // command line. InvalidArgument naming the file or flag and the key.
  Status Load(const std::string& path);

  // Applies the keys of an already parsed JSON object (unknown key: error).
  Status ApplyJson(const Json& object, const std::string& origin);

  // The help text of `key` (empty when unknown).
  std::string Help(const std::string& key) const {
    for (const Key& k : keys_) {
      if (k.name == key) return k.help;
    }
    return "";
  }
  // The keys, in the order they were described.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const Key& k : keys_) out.push_back(k.name);
    return out;
  }

 private:
  // kScalar: one word; kPair: exactly two; kCommaList: one word split at ','.
  enum class FlagKind { kScalar, kPair, kCommaList };
  struct Key {
    std::string name;
    std::string help;
    FlagKind flag_kind;
    // Converts a flag's words into the JSON value the file would hold.
    std::function<Result<Json>(const std::vector<std::string>&)> from_flag;
    // Checks a JSON value and stores it. Message without the key name.
    std::function<Status(const Json&)> apply;
    std::string flag_word;                // kScalar, kCommaList
    std::vector<std::string> flag_words;  // kPair
    CLI::Option* option = nullptr;
    bool path = false;                    // Path(): resolved against the config's folder
    std::string type_name = "TEXT";       // for --help: URL, PATH, N, RATE ...
    std::string default_text;             // for --help: the value before any file or flag
    bool flag = true;                     // false: NoFlag()
  };
  Key& Add(std::string key, std::string help, FlagKind kind);
  Status ApplyFlags();

  std::vector<Key> keys_;
  std::filesystem::path base_dir_;  // the config file's folder while it is applied
};

// The candidate closest to `word` when it is a likely misspelling (an edit
// distance of at most 2, and less than half the word), for "did you mean".
std::optional<std::string> DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "session_ttl_s" -> "--session-ttl-s".
std::string FlagName(const std::string& key);

// --help in 80 columns: flag names in a 30-column band, descriptions
// wrapped beside them, and `usage` ("peer-client [OPTIONS] [COMMAND [ARGS]]")
// as the usage line.
void UseHelpLayout(CLI::App& app, std::string usage);
// `text` broken into lines of at most `width` columns at spaces.
std::string Wrap(const std::string& text, size_t width);

}  // namespace p2pshare
