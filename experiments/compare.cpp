// Runs and studies side by side: see compare.h.
#include "experiments/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "experiments/bootstrap.h"
#include "experiments/svg.h"
#include "experiments/svg_charts.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace melgrad::report {
namespace {

// Keys that say when or with which build a run was made, not what it computed.
bool is_bookkeeping(const std::string& key) { return key == "started" || key == "melgrad_version"; }

void flatten(const json& v, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, child] : v.items())
      flatten(child, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out[prefix] = v.dump();
  }
}

std::string interval_text(const stats::Interval& i, int decimals = 3) {
  if (!std::isfinite(i.estimate)) return "n/a";
  if (!std::isfinite(i.low)) return format_number(i.estimate, decimals);
  return format_number(i.estimate, decimals) + " [" + format_number(i.low, decimals) + ", " +
         format_number(i.high, decimals) + "]";
}

// The headline test metrics of one run with their bootstrap intervals, by metric name.
std::map<std::string, stats::Interval> run_intervals(const ExperimentRun& r) {
  std::map<std::string, stats::Interval> out;
  if (!r.has_predictions) return out;
  if (r.is_genre()) {
    const GenrePredictions& g = r.genre_predictions;
    if (g.truth.empty()) return out;
    const auto n = int64_t(g.truth.size());
    const auto classes = int64_t(g.classes.size());
    out["accuracy"] = stats::bootstrap(n, [&](const std::vector<int64_t>& ix) {
      return stats::accuracy_of(g.truth, g.predicted, ix);
    });
    out["macro F1"] = stats::bootstrap(n, [&](const std::vector<int64_t>& ix) {
      return stats::macro_f1_of(g.truth, g.predicted, classes, ix);
    });
  } else {
    const RegressionPredictions& p = r.regression_predictions;
    for (const std::string& t : p.targets) {
      const std::vector<double>& truth = p.truth.at(t);
      const std::vector<double>& pred = p.predicted.at(t);
      if (truth.size() < 3) continue;
      out["Spearman " + t] = stats::bootstrap(
          int64_t(truth.size()),
          [&](const std::vector<int64_t>& ix) { return stats::spearman_of(truth, pred, ix); });
    }
  }
  return out;
}

std::string trait_text(const ExperimentRun& r) {
  std::string s = r.traits.model.empty() ? "" : r.traits.model;
  if (!r.traits.features.empty()) s += (s.empty() ? "" : ", ") + r.traits.features;
  if (r.traits.beat) s += ", beat";
  for (const std::string& t : r.traits.targets) s += ", " + t;
  return s.empty() ? "—" : s;
}

Section runs_section(const std::vector<CompareEntry>& entries) {
  Section s{.id = "runs", .title = "Runs"};
  Table t;
  t.header = {"run",        "kind",          "model / inputs", "epochs run",
              "best epoch", "training time", "folder"};
  for (const CompareEntry& e : entries) {
    const ExperimentRun& r = e.run;
    t.rows.push_back(
        {{e.label},
         {r.kind},
         {trait_text(r)},
         r.totals.epochs_run >= 0 ? number_cell(double(r.totals.epochs_run), 0) : Cell{"n/a", "na"},
         r.totals.best_epoch >= 0 ? number_cell(double(r.totals.best_epoch), 0) : Cell{"n/a", "na"},
         {format_duration(r.totals.train_seconds), "num"},
         {r.folder}});
  }
  s.blocks.push_back(t);
  for (const CompareEntry& e : entries)
    for (const std::string& note : e.run.notes)
      s.blocks.push_back(Paragraph{e.label + ": " + note, true});
  return s;
}

Section metrics_section(const std::vector<CompareEntry>& entries) {
  Section s{.id = "metrics", .title = "Test metrics with 95 % intervals"};
  s.blocks.push_back(Paragraph{
      "Each value is the metric on the run's test split (best checkpoint, from predictions.json) "
      "and its 95 % percentile bootstrap interval over the test clips (1000 resamples, seed 42). "
      "Intervals that overlap do not show a difference; the interval covers the test sample's "
      "noise only, not that of training (run several seeds for that)."});
  std::vector<std::map<std::string, stats::Interval>> per_entry;
  std::vector<std::string> names;
  for (const CompareEntry& e : entries) {
    per_entry.push_back(run_intervals(e.run));
    for (const auto& [k, _] : per_entry.back())
      if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
  }
  Table t;
  t.header = {"run"};
  t.header.insert(t.header.end(), names.begin(), names.end());
  t.header.push_back("test clips");
  for (size_t i = 0; i < entries.size(); ++i) {
    std::vector<Cell> row{{entries[i].label}};
    int64_t n = -1;
    for (const std::string& k : names) {
      auto it = per_entry[i].find(k);
      if (it == per_entry[i].end()) {
        row.push_back({"n/a", "na"});
      } else {
        row.push_back({interval_text(it->second), "num"});
        n = it->second.n;
      }
    }
    row.push_back(n >= 0 ? number_cell(double(n), 0) : Cell{"n/a", "na"});
    t.rows.push_back(std::move(row));
  }
  s.blocks.push_back(t);
  return s;
}

// Per group: what differs in the configurations, and the curves overlaid.
Section group_section(const std::string& group, const std::vector<const CompareEntry*>& members) {
  Section s{.id = anchor_id("group-" + group), .title = group};
  std::vector<const ExperimentRun*> runs;
  for (const CompareEntry* e : members) runs.push_back(&e->run);
  const std::vector<ConfigDifference> diffs = config_differences(runs);
  if (diffs.empty()) {
    s.blocks.push_back(
        Paragraph{"The configurations are identical (apart from start time and version)."});
  } else {
    Table t;
    t.header = {"setting"};
    for (const CompareEntry* e : members) t.header.push_back(e->label);
    for (const ConfigDifference& d : diffs) {
      std::vector<Cell> row{{d.key}};
      for (const std::string& v : d.values) row.push_back({v, v == "(absent)" ? "na" : ""});
      t.rows.push_back(std::move(row));
    }
    s.blocks.push_back(t);
  }
  svg::LineChart loss{.title = "Validation loss", .x_label = "epoch", .y_label = "loss"};
  svg::LineChart score{.title = "", .x_label = "epoch", .y_label = ""};
  for (size_t i = 0; i < members.size(); ++i) {
    const ExperimentRun& r = members[i]->run;
    svg::LineSeries l{.name = members[i]->label, .color = svg::series_color(i)};
    svg::LineSeries q{.name = members[i]->label, .color = svg::series_color(i)};
    for (const EpochRecord& e : r.log) {
      l.x.push_back(double(e.epoch));
      l.y.push_back(e.val_loss);
      q.x.push_back(double(e.epoch));
      if (r.is_genre()) {
        q.y.push_back(e.val_accuracy);
      } else {
        double sum = 0;
        for (const auto& [_, v] : e.val_spearman) sum += v;
        q.y.push_back(e.val_spearman.empty() ? NAN : sum / double(e.val_spearman.size()));
      }
    }
    if (!l.x.empty()) loss.series.push_back(std::move(l));
    if (!q.x.empty()) score.series.push_back(std::move(q));
  }
  const bool genre = !members.empty() && members[0]->run.is_genre();
  score.title = genre ? "Validation accuracy" : "Validation Spearman (mean over targets)";
  score.y_label = genre ? "accuracy" : "rho";
  FigureRow row;
  if (loss.series.empty()) {
    row.push_back({svg::empty_chart("Learning curves", "no training logs"), ""});
  } else {
    row.push_back({svg::line_chart(loss), "validation loss per epoch"});
    row.push_back({svg::line_chart(score), score.title + " per epoch"});
  }
  s.blocks.push_back(row);
  return s;
}

}  // namespace

std::vector<ConfigDifference> config_differences(const std::vector<const ExperimentRun*>& runs) {
  std::vector<std::map<std::string, std::string>> flat(runs.size());
  std::set<std::string> keys;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i]->config.is_null()) flatten(runs[i]->config, "", flat[i]);
    for (const auto& [k, _] : flat[i]) keys.insert(k);
  }
  std::vector<ConfigDifference> out;
  for (const std::string& k : keys) {
    if (is_bookkeeping(k)) continue;
    ConfigDifference d{k, {}};
    for (const auto& f : flat) {
      auto it = f.find(k);
      d.values.push_back(it == f.end() ? "(absent)" : it->second);
    }
    if (std::adjacent_find(d.values.begin(), d.values.end(), std::not_equal_to<>()) !=
        d.values.end())
      out.push_back(std::move(d));
  }
  return out;
}

std::vector<CompareEntry> load_compare_entries(const std::vector<std::string>& paths) {
  std::vector<CompareEntry> out;
  for (const std::string& p : paths) {
    const fs::path dir = fs::absolute(p).lexically_normal();
    if (fs::exists(dir / "study.json")) {
      StudyData study = load_study(dir.string());
      std::string name = dir.filename().string();
      for (ExperimentRun& r : study.runs) {
        if (!r.folder_exists) continue;
        if (r.seed_runs.size() < 2) {
          out.push_back({name + "/" + r.name, r.name, std::move(r)});
          continue;
        }
        // --seeds N: every seed's run, compared with the other seeds of the experiment.
        for (ExperimentRun& seed_run : r.seed_runs)
          out.push_back({name + "/" + seed_run.dir, r.name, std::move(seed_run)});
      }
    } else if (fs::exists(dir / "config.json")) {
      ExperimentRun r = load_run(dir.string());
      out.push_back({dir.filename().string(), "Runs", std::move(r)});
    } else {
      throw ReportError(p + ": neither a study folder (study.json) nor a run folder (config.json)");
    }
  }
  if (out.size() < 2)
    throw ReportError(
        "compare: give at least two runs, or studies with at least two experiments between them");
  return out;
}

ReportContent build_compare_content(const std::vector<CompareEntry>& entries) {
  ReportContent c;
  c.title = "melgrad compare";
  std::set<std::string> datasets;
  bool synthetic = false;
  for (const CompareEntry& e : entries)
    if (e.run.config.is_object() && e.run.config.contains("data")) {
      const json& d = e.run.config["data"];
      datasets.insert(d.value("name", std::string("?")) + " at " +
                      d.value("path", std::string("?")));
      synthetic = synthetic || d.value("synthetic", false);
    }
  c.dataset_label =
      std::to_string(entries.size()) + " runs compared" +
      (datasets.size() > 1 ? " — ON DIFFERENT DATA SETS: metrics are not comparable" : "") +
      (synthetic ? " (synthetic data: the numbers check the pipeline, not the study)" : "");
  for (const std::string& d : datasets) c.facts.push_back({"Data set", d});
  c.sections.push_back(runs_section(entries));
  c.sections.push_back(metrics_section(entries));
  std::vector<std::string> order;
  std::map<std::string, std::vector<const CompareEntry*>> groups;
  for (const CompareEntry& e : entries) {
    if (!groups.count(e.group)) order.push_back(e.group);
    groups[e.group].push_back(&e);
  }
  Section per_group{.id = "groups", .title = "Configurations and learning curves"};
  for (const std::string& g : order) {
    if (groups[g].size() < 2) continue;
    per_group.children.push_back(group_section(g, groups[g]));
  }
  if (per_group.children.empty())
    per_group.blocks.push_back(
        Paragraph{"No experiment appears in more than one of the given folders.", true});
  c.sections.push_back(per_group);
  return c;
}

}  // namespace melgrad::report
