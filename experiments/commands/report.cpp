// `melgrad report --run STUDY_DIR`: re-renders STUDY_DIR/report.html and report.md from the
// study's JSON files (experiments/report.h) and prints their paths.
#include "experiments/report.h"

#include <cstdio>

#include "experiments/cli.h"

namespace melgrad {
namespace {

int run_report(const cli::Args& args) {
  const report::ReportFiles files = report::write_study_report(args.str("run"));
  std::printf("report: %s\nreport: %s\n", files.html.c_str(), files.markdown.c_str());
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "report",
    .summary = "re-render a study's report.html and report.md from its JSON files",
    .options =
        {
            {"run", "STUDY_DIR written by `melgrad study`", "", false, true},
        },
    .positional_help = "",
    .run = run_report,
});

}  // namespace
}  // namespace melgrad
