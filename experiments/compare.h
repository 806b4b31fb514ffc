// `melgrad compare`: runs or whole studies side by side in one self-contained HTML page and
// its Markdown twin — what differs in their configurations, their test metrics with 95 %
// bootstrap intervals over the test clips (bootstrap.h), and their learning curves
// overlaid. A study contributes each of its experiments; experiments of the same name in
// different studies are compared with each other, single runs all together.
// Rendering reuses the study report's document tree (report_content.h).
#pragma once

#include <string>
#include <vector>

#include "experiments/report_content.h"

namespace melgrad::report {

struct CompareEntry {
  std::string label;  // "RUN" or "STUDY/EXPERIMENT"
  std::string group;  // entries of one group are compared with each other
  ExperimentRun run;
};

// Reads each path as a study folder (study.json) or a run folder (config.json); a path that
// is neither is a ReportError naming it. Fewer than two entries in all is an error too.
std::vector<CompareEntry> load_compare_entries(const std::vector<std::string>& paths);

ReportContent build_compare_content(const std::vector<CompareEntry>& entries);

// The configuration keys (flattened with dots: "model_config.dropout") whose values differ
// between the entries, with each entry's value as JSON text ("(absent)" when missing).
struct ConfigDifference {
  std::string key;
  std::vector<std::string> values;
};
std::vector<ConfigDifference> config_differences(const std::vector<const ExperimentRun*>& runs);

}  // namespace melgrad::report
