// Command table and option parsing for the `melgrad` program (see cli.h).
#include "experiments/cli.h"

#include <algorithm>
#include <sstream>

namespace melgrad::cli {

static std::vector<Command>& table() {
  static std::vector<Command> t;
  return t;
}

void register_command(Command cmd) {
  if (find_command(cmd.name)) throw std::logic_error("command registered twice: " + cmd.name);
  table().push_back(std::move(cmd));
  std::sort(table().begin(), table().end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
}

const std::vector<Command>& commands() { return table(); }

const Command* find_command(const std::string& name) {
  for (const Command& c : table())
    if (c.name == name) return &c;
  return nullptr;
}

std::string usage(const Command& cmd) {
  std::ostringstream s;
  s << "usage: melgrad " << cmd.name << " [options]";
  if (!cmd.positional_help.empty()) s << " " << cmd.positional_help;
  s << "\n  " << cmd.summary << "\n";
  if (!cmd.options.empty()) s << "options:\n";
  for (const Option& o : cmd.options) {
    std::string head = "  --" + o.name + (o.is_flag ? "" : " VALUE");
    s << head << std::string(head.size() < 26 ? 26 - head.size() : 1, ' ') << o.help;
    if (o.required)
      s << " (required)";
    else if (!o.default_value.empty())
      s << " (default: " << o.default_value << ")";
    s << "\n";
  }
  s << "  --help                  show this help\n";
  return s.str();
}

Args::Args(const Command& cmd, const std::vector<std::string>& argv) : cmd_(&cmd) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      if (cmd.positional_help.empty())
        throw UsageError("unexpected argument '" + a + "' for 'melgrad " + cmd.name + "'");
      positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const Option& o = option(name);
    if (o.is_flag) {
      if (inline_value) throw UsageError("option --" + name + " takes no value");
      values_[name] = "1";
    } else {
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError("option --" + name + " needs a value");
        // "--epochs --out X": the value is missing, not "X" unexpected.
        if (argv[i + 1].rfind("--", 0) == 0 && argv[i + 1].size() > 2)
          throw UsageError("option --" + name + " needs a value (found the option " + argv[i + 1] +
                           " instead)");
        value = argv[++i];
      }
      values_[name] = value;
    }
  }
  for (const Option& o : cmd.options)
    if (o.required && !values_.count(o.name))
      throw UsageError("missing required option --" + o.name + " for 'melgrad " + cmd.name + "'");
}

const Option& Args::option(const std::string& name) const {
  for (const Option& o : cmd_->options)
    if (o.name == name) return o;
  throw UsageError("unknown option --" + name + " for 'melgrad " + cmd_->name + "'");
}

bool Args::has(const std::string& name) const {
  option(name);
  return values_.count(name) > 0;
}

std::string Args::str(const std::string& name) const {
  const Option& o = option(name);
  auto it = values_.find(name);
  return it != values_.end() ? it->second : o.default_value;
}

int64_t Args::integer(const std::string& name) const {
  std::string v = str(name);
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw UsageError("option --" + name + " expects an integer, got '" + v + "'");
}

double Args::number(const std::string& name) const {
  std::string v = str(name);
  try {
    size_t used = 0;
    // Decimal numbers only: std::stod would also take "0x1p-1", "inf" and "nan".
    const bool decimal = v.find_first_not_of("0123456789.eE+-") == std::string::npos;
    double x = std::stod(v, &used);
    if (decimal && used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw UsageError("option --" + name + " expects a number, got '" + v + "'");
}

bool Args::flag(const std::string& name) const {
  option(name);
  return values_.count(name) > 0;
}

}  // namespace melgrad::cli
