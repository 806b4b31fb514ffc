// The command table of the `melgrad` program. Each subcommand lives in its own file
// under experiments/commands/ and registers itself with a static CommandRegistrar:
//
//   static cli::CommandRegistrar reg({
//       .name = "make-dataset", .summary = "write the embedded synthetic data set",
//       .options = {{"out", "folder to write", ""}, {"seed", "random seed", "42"}},
//       .run = [](const cli::Args& a) { ...; return 0; }});
//
// Options are `--name value` or, for flags, `--name`. Unknown options, missing values and
// values that do not parse are usage errors (exit code 2) with a message naming the option.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace melgrad::cli {

struct Option {
  std::string name;  // without the leading "--"
  std::string help;
  std::string default_value;  // "" = no default (required when `required`)
  bool is_flag = false;       // takes no value; true when present
  bool required = false;
};

class Args;

struct Command {
  std::string name;
  std::string summary;
  std::vector<Option> options;
  std::string positional_help;  // e.g. "FILE.npy..."; empty = no positionals accepted
  std::function<int(const Args&)> run;
};

// Raised for bad command lines; main() prints it with the command's usage, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  Args(const Command& cmd, const std::vector<std::string>& argv);  // throws UsageError

  bool has(const std::string& name) const;  // given on the command line (or a flag set)
  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool flag(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  const Command& command() const { return *cmd_; }

 private:
  const Option& option(const std::string& name) const;
  const Command* cmd_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

void register_command(Command cmd);
const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
std::string usage(const Command& cmd);

struct CommandRegistrar {
  explicit CommandRegistrar(Command cmd) { register_command(std::move(cmd)); }
};

}  // namespace melgrad::cli
