// `melgrad compare RUN_OR_STUDY... --out FILE.html`: runs or studies side by side — the
// configuration differences, test metrics with 95 % bootstrap intervals, overlaid learning
// curves (experiments/compare.h) — as one self-contained HTML page and, beside it, the same
// tables in Markdown (FILE.md). Never overwrites without --force.
#include "experiments/compare.h"

#include <cstdio>
#include <filesystem>

#include "datasets/file_io.h"
#include "experiments/cli.h"

namespace melgrad {
namespace {

namespace fs = std::filesystem;

int run_compare(const cli::Args& a) {
  if (a.positionals().size() < 1) throw cli::UsageError("give two or more run or study folders");
  const fs::path html = a.str("out");
  if (html.extension() != ".html")
    throw cli::UsageError("option --out must end in .html, got " + html.string());
  fs::path md = html;
  md.replace_extension(".md");
  for (const fs::path& p : {html, md})
    if (fs::exists(p) && !a.flag("force"))
      throw cli::UsageError(p.string() + " exists; pass --force to replace it");
  const std::vector<report::CompareEntry> entries = report::load_compare_entries(a.positionals());
  report::ReportContent content = report::build_compare_content(entries);
  content.html_name = html.filename().string();
  content.remake = "melgrad compare RUN_OR_STUDY... --out " + html.filename().string();
  data::write_file_atomic(html.string(), report::render_html(content));
  data::write_file_atomic(md.string(), report::render_markdown(content));
  std::printf("compared %zu runs: %s and %s\n", entries.size(), html.string().c_str(),
              md.string().c_str());
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "compare",
    .summary = "runs or studies side by side: config differences, metrics with intervals, curves",
    .options =
        {
            {"out", "FILE.html (FILE.md is written beside it)", "compare.html", false, false},
            {"force", "replace the output files if they exist", "", true, false},
        },
    .positional_help = "RUN_OR_STUDY...",
    .run = run_compare,
});

}  // namespace
}  // namespace melgrad
