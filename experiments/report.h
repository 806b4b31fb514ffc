// The study report: reads a study folder written by `melgrad study` (study.json, the
// study's metrics.json and one run folder per experiment, see docs/REPORT.md) and writes
// STUDY_DIR/report.html (self-contained, inline CSS and SVG plots) and STUDY_DIR/report.md
// (the same tables in Markdown), each atomically (temp file + rename).
//
// Missing experiments and missing optional files render as "not run" / "no data" notes; a
// malformed JSON file or a field of the wrong type throws report::ReportError naming the
// file (and field). Used by `melgrad study` at its end and by `melgrad report --run DIR`.
#pragma once

#include <string>

namespace melgrad::report {

struct ReportFiles {
  std::string html, markdown;  // paths of the written files
};

ReportFiles write_study_report(const std::string& study_dir);

}  // namespace melgrad::report
