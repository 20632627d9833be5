// Parsing what the user types: words (with quotes), then a command name,
// positional arguments and --options, checked against the command's spec
// in the one command table (Commands(), defined beside the methods that
// run the commands, in peer_client.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace p2pshare::pclient {

// Splits a line into words. Double or single quotes group words
// ("my song.mp3"); a backslash escapes the next character outside single
// quotes. InvalidArgument for an unclosed quote.
Result<std::vector<std::string>> SplitWords(const std::string& line);

struct ParsedCommand {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> options;  // "--to" -> "dir"; a flag -> ""
  std::optional<std::string> Option(const std::string& name) const;
  bool Flag(const std::string& name) const { return options.count(name) > 0; }
};

class PeerClient;

// A command: what it accepts, how `help` shows it, and what runs it.
struct CommandSpec {
  std::string name;
  std::string usage;    // "download <name|#n|sha256> [--from PEER] [--to DIR]"
  std::string summary;  // one line for `help`
  size_t min_args = 0;
  size_t max_args = 0;
  std::vector<std::string> options = {};  // each takes one value: "--from", "--to"
  std::vector<std::string> flags = {};    // take no value: "--verify-only"
  std::vector<std::string> aliases = {};  // other names: "exit" for quit
  bool joins_args = false;  // the words after the name are one argument (search's text)
  // The last argument takes the rest of the words, spaces between
  // (browse's folder: browse alice Cours de maths).
  bool last_takes_rest = false;
  // Whether peer-client logs in at start (a config with a password) before
  // running it; not for help, register, login and quit.
  bool login_first = true;
  Status (PeerClient::*run)(const ParsedCommand&) = nullptr;
};

// Every command of peer-client (docs/protocol.md, "peer-client"), in help
// order.
const std::vector<CommandSpec>& Commands();
// The spec of `name` or one of its aliases; nullptr when unknown.
const CommandSpec* FindCommand(const std::string& name);

// Parses words into a command. InvalidArgument naming the problem and the
// usage: unknown command, unknown option, missing option value, too few or
// too many arguments.
Result<ParsedCommand> ParseCommand(const std::vector<std::string>& words);

}  // namespace p2pshare::pclient
