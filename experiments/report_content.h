// The study report as a document tree, before it becomes HTML or Markdown: a header
// (data set, device, date, time), then sections holding paragraphs, tables and rows of
// SVG figures, with sub-sections per experiment. Both renderers walk the same tree, so
// the two files always carry the same numbers; Markdown skips the figures.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "experiments/report_study.h"

namespace melgrad::report {

// A cell's text plus a style the HTML renderer maps to a CSS class:
// "" plain, "num" a number, "na" n/a / not run, "best" the best value of its table.
struct Cell {
  std::string text{};
  std::string style{};
  std::string link{};  // HTML only: an anchor id in the page ("" = no link)
};

struct Table {
  std::vector<std::string> header{};
  std::vector<std::string> column_class{};  // per column: "" | "ours" | "pub" (HTML shading)
  std::vector<std::vector<Cell>> rows{};
  std::vector<std::string> footnotes{};
  bool markdown_only = false;  // the HTML shows the same numbers as a figure
};

struct Paragraph {
  std::string text{};
  bool note = false;  // a remark about missing data or a caveat (shown muted / as a quote)
};

struct Figure {
  std::string svg{};  // one <svg> element
  std::string caption{};
};
using FigureRow = std::vector<Figure>;

using Block = std::variant<Paragraph, Table, FigureRow>;

struct Section {
  std::string id{};  // HTML anchor, [a-z0-9-]
  std::string title{};
  std::vector<Block> blocks{};
  std::vector<Section> children{};  // per-experiment details
};

struct ReportContent {
  std::string title{};
  DatasetInfo dataset{};
  std::string dataset_label{};  // one line saying which data set, e.g. "SYNTHETIC ..."
  std::vector<std::pair<std::string, std::string>> facts{};  // label, value (header table)
  std::vector<Section> sections{};
  std::string html_name = "report.html";  // the HTML twin the Markdown points to for plots
  std::string remake = "melgrad report --run STUDY_DIR";  // the command that re-renders it
};

ReportContent build_report_content(const StudyData& study);
std::string render_html(const ReportContent& content);
std::string render_markdown(const ReportContent& content);

// --- Shared by the section builders -------------------------------------------------

// "0.431" (decimals digits) or "n/a" for NaN / infinity.
std::string format_number(double value, int decimals = 3);
// A p-value: "3.2e-05", "0.041", "n/a".
std::string format_pvalue(double p);
// "12.3 s", "4 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);
// A number cell (style "num", or "na" when not finite).
Cell number_cell(double value, int decimals = 3);
// The HTML anchor of an experiment's section: "run-" + the name in [a-z0-9-].
std::string anchor_id(const std::string& experiment_name);

// The per-experiment sections (learning curves, confusion matrix, scatter plots, tables).
Section genre_run_section(const ExperimentRun& run);
Section regression_run_section(const ExperimentRun& run);
Section other_run_section(const ExperimentRun& run);

// The exploratory section: clip pictures per genre, class counts, lengths, targets
// (report_eda.cpp), from the data folder study.json names.
Section eda_section(const StudyData& study);

// Headline metrics with 95 % intervals over seeds and test clips, and the study's
// comparisons with their significance tests (report_seeds.cpp).
Section intervals_section(const StudyData& study);

// The table of our headline numbers beside the published ones (REFERENCE §3).
Section summary_section(const StudyData& study, const std::string& ours_label);

// Lookup of the study's experiments by what they are (config first, name as fallback);
// nullptr when the study has no such run with metrics.
const ExperimentRun* find_genre_run(const StudyData& s, const std::string& model,
                                    const std::string& features, bool beat);
// (features, beat-synced) of every genre combination: the study's four standard ones first,
// then any other a genre run used, in run order.
std::vector<std::pair<std::string, bool>> genre_feature_clips(const StudyData& s);
const ExperimentRun* find_regress_run(const StudyData& s, const std::string& model,
                                      const std::string& target);
const ExperimentRun* find_kind_run(const StudyData& s, const std::string& kind);
// rho of `target` in a regression run, NaN when absent.
double spearman_of(const ExperimentRun* run, const std::string& target);

}  // namespace melgrad::report
