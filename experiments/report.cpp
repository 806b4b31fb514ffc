// write_study_report: load the study folder, build the document once, write it as HTML and
// Markdown beside study.json (report.h).
#include "experiments/report.h"

#include <filesystem>

#include "datasets/file_io.h"
#include "experiments/report_content.h"

namespace melgrad::report {

ReportFiles write_study_report(const std::string& study_dir) {
  const StudyData study = load_study(study_dir);
  const ReportContent content = build_report_content(study);
  const std::filesystem::path dir(study_dir);
  ReportFiles files{(dir / "report.html").string(), (dir / "report.md").string()};
  try {
    data::write_file_atomic(files.html, render_html(content));
    data::write_file_atomic(files.markdown, render_markdown(content));
  } catch (const data::DataError& e) {
    throw ReportError(std::string("writing the report: ") + e.what());
  }
  return files;
}

}  // namespace melgrad::report
