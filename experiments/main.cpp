// Front door of the `melgrad` program: picks the subcommand, parses its options, and turns
// exceptions into one-line errors (exit 1) or usage errors (exit 2).
#include <cstdio>
#include <exception>
#include <iostream>

#include "experiments/cli.h"

using namespace melgrad;

static void print_overview() {
  std::cout << "usage: melgrad COMMAND [options]   (melgrad COMMAND --help for its options)\n"
               "commands:\n";
  for (const cli::Command& c : cli::commands()) {
    std::string head = "  " + c.name;
    std::cout << head << std::string(head.size() < 20 ? 20 - head.size() : 1, ' ') << c.summary
              << "\n";
  }
}

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    print_overview();
    return argc < 2 ? 2 : 0;
  }
  const cli::Command* cmd = cli::find_command(argv[1]);
  if (!cmd) {
    std::cerr << "melgrad: unknown command '" << argv[1] << "' (melgrad --help lists them)\n";
    return 2;
  }
  std::vector<std::string> rest(argv + 2, argv + argc);
  for (const std::string& a : rest)
    if (a == "--help" || a == "-h") {
      std::cout << cli::usage(*cmd);
      return 0;
    }
  try {
    cli::Args args(*cmd, rest);
    return cmd->run(args);
  } catch (const cli::UsageError& e) {
    std::cerr << "melgrad " << cmd->name << ": " << e.what() << "\n\n" << cli::usage(*cmd);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "melgrad " << cmd->name << ": error: " << e.what() << "\n";
    return 1;
  }
}
