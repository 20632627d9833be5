#include "pclient/command_line.h"

#include <algorithm>

#include "common/config.h"

namespace p2pshare::pclient {

Result<std::vector<std::string>> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) return InvalidArgument(std::string("unclosed ") + quote + " quote");
  if (in_word) words.push_back(std::move(word));
  return words;
}

const CommandSpec* FindCommand(const std::string& name) {
  for (const auto& c : Commands()) {
    if (c.name == name || std::find(c.aliases.begin(), c.aliases.end(), name) != c.aliases.end()) {
      return &c;
    }
  }
  return nullptr;
}

std::optional<std::string> ParsedCommand::Option(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Result<ParsedCommand> ParseCommand(const std::vector<std::string>& words) {
  if (words.empty()) return InvalidArgument("no command given; try 'help'");
  const CommandSpec* spec = FindCommand(words[0]);
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const auto& c : Commands()) {
      names.push_back(c.name);
      names.insert(names.end(), c.aliases.begin(), c.aliases.end());
    }
    auto close = DidYouMean(words[0], names);
    return InvalidArgument("unknown command '" + words[0] + "'; " +
                           (close ? "did you mean '" + *close + "'? " : "") + "try 'help'");
  }
  ParsedCommand out;
  // "download --help" is "help download", wherever the --help is.
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--help" || words[i] == "-h") {
      out.name = "help";
      out.args = {spec->name};
      return out;
    }
  }
  out.name = spec->name;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() > 2 && w.rfind("--", 0) == 0) {
      std::string name = w, value;
      bool has_value = false;
      if (size_t eq = w.find('='); eq != std::string::npos) {
        name = w.substr(0, eq);
        value = w.substr(eq + 1);
        has_value = true;
      }
      bool is_flag = false;
      for (const auto& f : spec->flags) is_flag |= (f == name);
      if (is_flag) {
        if (has_value) return InvalidArgument(name + " takes no value; usage: " + spec->usage);
        out.options[name] = "";
        continue;
      }
      bool known = false;
      for (const auto& o : spec->options) known |= (o == name);
      if (!known) return InvalidArgument("'" + spec->name + "' has no option " + name + "; usage: " + spec->usage);
      if (!has_value) {
        if (i + 1 >= words.size()) return InvalidArgument(name + " needs a value; usage: " + spec->usage);
        value = words[++i];
      }
      out.options[name] = value;
    } else {
      out.args.push_back(w);
    }
  }
  if (spec->joins_args && out.args.size() > 1) {
    // A word that was quoted (it holds a space) stays one: a phrase.
    std::string text;
    for (const auto& a : out.args) {
      const bool phrase = a.find(' ') != std::string::npos && a.find('"') == std::string::npos;
      text += (text.empty() ? "" : " ") + (phrase ? '"' + a + '"' : a);
    }
    out.args = {text};
  }
  if (spec->last_takes_rest && spec->max_args > 0 && out.args.size() > spec->max_args) {
    for (size_t i = spec->max_args; i < out.args.size(); ++i) out.args[spec->max_args - 1] += " " + out.args[i];
    out.args.resize(spec->max_args);
  }
  if (out.args.size() < spec->min_args || out.args.size() > std::max(spec->max_args, spec->min_args)) {
    return InvalidArgument("usage: " + spec->usage);
  }
  return out;
}

}  // namespace p2pshare::pclient
