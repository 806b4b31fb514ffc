// Front door of the `melgrad` program: picks the subcommand, parses its options, and turns
// exceptions into one-line errors (exit 1) or usage errors (exit 2).
// Under mpirun (data-parallel training, engine/dist) every rank runs the same command; the
// ranks other than 0 print nothing but their errors, and an error on one rank ends the whole
// job at once (the others may be waiting for it in a collective).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "engine/dist/transport.h"
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

// Ranks other than 0: stdout and stderr to /dev/null; returns a stream on the real stderr
// for errors (std::cerr itself on rank 0 and without mpirun).
static std::ostream& quiet_other_ranks() {
  if (!dist::launched_by_mpi() || dist::world().rank() == 0) return std::cerr;
  static FILE* errors = fdopen(dup(STDERR_FILENO), "w");
  const int null = open("/dev/null", O_WRONLY);
  dup2(null, STDOUT_FILENO);
  dup2(null, STDERR_FILENO);
  close(null);
  static std::ostream* stream = [] {
    struct FileBuf : std::streambuf {
      FILE* f;
      explicit FileBuf(FILE* file) : f(file) {}
      int overflow(int c) override { return c == EOF ? 0 : std::fputc(c, f); }
      int sync() override { return std::fflush(f); }
    };
    static FileBuf buf(errors);
    static std::ostream out(&buf);
    return &out;
  }();
  return *stream;
}

static int run(int argc, char** argv, std::ostream& errors) {
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
    errors << "melgrad " << cmd->name << ": " << e.what() << "\n\n"
           << cli::usage(*cmd) << std::flush;
    return 2;
  } catch (const std::exception& e) {
    errors << "melgrad " << cmd->name << ": error: " << e.what() << "\n" << std::flush;
    if (dist::launched_by_mpi()) dist::abort_job(1);
    return 1;
  }
}

int main(int argc, char** argv) {
  std::ostream& errors = quiet_other_ranks();
  const int rc = run(argc, argv, errors);
  dist::finalize();
  return rc;
}
