// One sub-section per experiment of the study report: a line of facts, notes on missing
// files, learning curves (train/validation loss and the validation metric per epoch), the
// confusion matrix heat-map and per-class table (genre runs), predicted-vs-true scatter
// plots and per-attribute table (regression runs), raw metrics (unknown kinds).
#include <algorithm>
#include <cmath>

#include "experiments/report_content.h"
#include "experiments/svg.h"
#include "experiments/svg_charts.h"

namespace melgrad::report {

std::string anchor_id(const std::string& name) {
  std::string id = "run-";
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c >= 'A' && c <= 'Z')
      id += static_cast<char>(c - 'A' + 'a');
    else
      id += keep ? c : '-';
  }
  return id;
}

namespace {

Section run_section_head(const ExperimentRun& run) {
  Section sec{.id = anchor_id(run.name),
              .title = run.name + (run.title.empty() ? "" : " — " + run.title)};
  std::string facts;
  auto add = [&](const std::string& label, const std::string& value) {
    if (!value.empty()) facts += (facts.empty() ? "" : " · ") + label + value;
  };
  add("kind: ", run.kind.empty() ? "(none)" : run.kind);
  add("model: ", run.traits.model);
  add("features: ", run.traits.features);
  if (run.is_genre() || !run.traits.features.empty())
    add("clips: ", run.traits.beat ? "beat-synced" : "full");
  if (run.is_regression()) {
    std::string targets;
    for (const std::string& t : run.traits.targets) targets += (targets.empty() ? "" : ", ") + t;
    add("targets: ", targets);
  }
  const RunTotals& t = run.totals;
  if (t.test_clips >= 0) add("test clips: ", std::to_string(t.test_clips));
  if (t.epochs_run >= 0) add("epochs run: ", std::to_string(t.epochs_run));
  if (t.best_epoch >= 0) add("best epoch: ", std::to_string(t.best_epoch));
  if (std::isfinite(t.train_seconds)) add("training time: ", format_duration(t.train_seconds));
  if (run.config.is_object()) {
    auto it = run.config.find("device");
    if (it != run.config.end() && it->is_string()) add("device: ", it->get<std::string>());
  }
  sec.blocks.push_back(Paragraph{facts});
  for (const std::string& note : run.notes) sec.blocks.push_back(Paragraph{note, true});
  return sec;
}

// The epoch that restored the best checkpoint: metrics' best_epoch, else the log's last
// epoch flagged best.
double best_epoch(const ExperimentRun& run) {
  if (run.totals.best_epoch > 0) return static_cast<double>(run.totals.best_epoch);
  double best = NAN;
  for (const EpochRecord& e : run.log)
    if (e.best) best = static_cast<double>(e.epoch);
  return best;
}

std::vector<double> epochs_of(const ExperimentRun& run) {
  std::vector<double> x;
  for (const EpochRecord& e : run.log) x.push_back(static_cast<double>(e.epoch));
  return x;
}

std::vector<svg::ReferenceLine> best_epoch_marker(const ExperimentRun& run) {
  const double best = best_epoch(run);
  if (!std::isfinite(best)) return {};
  return {{best, "best epoch " + format_number(best, 0), "#666"}};
}

Figure loss_curve(const ExperimentRun& run) {
  const std::string title = run.name + ": loss per epoch";
  if (!run.has_log || run.log.empty())
    return {svg::empty_chart(title, "no training log"), "Training and validation loss."};
  svg::LineChart chart{.title = title, .x_label = "epoch", .y_label = "loss"};
  svg::LineSeries train{.name = "train loss", .x = epochs_of(run)};
  svg::LineSeries val{.name = "validation loss", .x = epochs_of(run), .dash = "6 4"};
  for (const EpochRecord& e : run.log) train.y.push_back(e.train_loss), val.y.push_back(e.val_loss);
  chart.series = {train, val};
  chart.vertical = best_epoch_marker(run);
  return {svg::line_chart(chart),
          "Training and validation loss; the dashed vertical line is "
          "the epoch whose checkpoint was kept."};
}

Figure genre_metric_curve(const ExperimentRun& run, size_t classes) {
  const std::string title = run.name + ": validation accuracy";
  if (!run.has_log || run.log.empty())
    return {svg::empty_chart(title, "no training log"), "Validation accuracy per epoch."};
  svg::LineChart chart{.title = title, .x_label = "epoch", .y_label = "accuracy"};
  svg::LineSeries acc{
      .name = "validation accuracy", .x = epochs_of(run), .color = svg::series_color(2)};
  for (const EpochRecord& e : run.log) acc.y.push_back(e.val_accuracy);
  chart.series = {acc};
  chart.y_range = std::make_pair(0.0, 0.0);  // keep 0 in view
  if (classes > 0)
    chart.horizontal.push_back({1.0 / static_cast<double>(classes),
                                "chance (" + std::to_string(classes) + " classes)", "#b00"});
  chart.vertical = best_epoch_marker(run);
  return {svg::line_chart(chart), "Validation accuracy per epoch; the red line is chance."};
}

Figure regression_metric_curve(const ExperimentRun& run) {
  const std::string title = run.name + ": validation Spearman";
  if (!run.has_log || run.log.empty())
    return {svg::empty_chart(title, "no training log"), "Validation Spearman per epoch."};
  std::vector<std::string> targets = run.traits.targets;
  for (const EpochRecord& e : run.log)
    for (const auto& [t, _] : e.val_spearman)
      if (std::find(targets.begin(), targets.end(), t) == targets.end()) targets.push_back(t);
  svg::LineChart chart{.title = title, .x_label = "epoch", .y_label = "Spearman ρ"};
  for (size_t i = 0; i < targets.size(); ++i) {
    svg::LineSeries s{.name = targets[i], .x = epochs_of(run), .color = svg::series_color(i + 2)};
    for (const EpochRecord& e : run.log) {
      auto it = e.val_spearman.find(targets[i]);
      s.y.push_back(it == e.val_spearman.end() ? NAN : it->second);
    }
    chart.series.push_back(std::move(s));
  }
  chart.y_range = std::make_pair(0.0, 0.0);
  chart.vertical = best_epoch_marker(run);
  return {svg::line_chart(chart), "Validation Spearman rank correlation per epoch and target."};
}

// The confusion matrix from metrics.json, or counted from the predictions when absent.
std::vector<std::vector<int64_t>> confusion_of(const ExperimentRun& run,
                                               std::vector<std::string>& classes) {
  classes = run.genre.classes;
  if (!run.genre.confusion.empty()) return run.genre.confusion;
  if (!run.has_predictions) return {};
  const GenrePredictions& p = run.genre_predictions;
  classes = p.classes;
  std::vector<std::vector<int64_t>> m(classes.size(), std::vector<int64_t>(classes.size(), 0));
  for (size_t i = 0; i < p.truth.size(); ++i) ++m[p.truth[i]][p.predicted[i]];
  return m;
}

// A metric as written: integers as integers, other numbers with 4 decimals, null as n/a.
Cell raw_value_cell(const nlohmann::json& v) {
  if (v.is_number_integer()) return {v.dump(), "num"};
  if (v.is_number()) return number_cell(v.get<double>(), 4);
  if (v.is_null()) return {"n/a", "na"};
  return {v.is_string() ? v.get<std::string>() : v.dump(), ""};
}

}  // namespace

Section genre_run_section(const ExperimentRun& run) {
  Section sec = run_section_head(run);
  std::vector<std::string> classes;
  const auto confusion = confusion_of(run, classes);
  // Placeholders only where part of the run is there: a run that never started shows
  // its notes alone.
  FigureRow figures;
  if (run.has_log) figures = {loss_curve(run), genre_metric_curve(run, classes.size())};
  if (!confusion.empty()) {
    svg::Heatmap map{.title = run.name + ": confusion matrix (test)",
                     .x_label = "predicted",
                     .y_label = "true",
                     .row_labels = classes,
                     .col_labels = classes};
    for (const auto& row : confusion) map.values.emplace_back(row.begin(), row.end());
    figures.push_back({svg::heatmap_chart(map),
                       "Test clips by true class (rows) and predicted class (columns); colour "
                       "is the share of the row (recall), the diagonal is outlined."});
  } else if (run.has_log) {
    figures.push_back({svg::empty_chart(run.name + ": confusion matrix", "no confusion matrix"),
                       "Neither metrics.json nor predictions.json carries the matrix."});
  }
  if (!figures.empty()) sec.blocks.push_back(std::move(figures));

  if (run.has_metrics) {
    Table scores;
    scores.header = {"Class", "Precision", "Recall", "F1", "Support"};
    for (size_t i = 0; i < run.genre.per_class.size() && i < run.genre.classes.size(); ++i) {
      const PerClassScores& c = run.genre.per_class[i];
      scores.rows.push_back({{run.genre.classes[i], ""},
                             number_cell(c.precision),
                             number_cell(c.recall),
                             number_cell(c.f1),
                             {std::to_string(c.support), "num"}});
    }
    scores.rows.push_back(
        {{"accuracy", ""}, {"", ""}, {"", ""}, number_cell(run.genre.accuracy), {"", ""}});
    scores.rows.push_back(
        {{"macro average F1", ""}, {"", ""}, {"", ""}, number_cell(run.genre.macro_f1), {"", ""}});
    scores.rows.push_back({{"weighted average F1", ""},
                           {"", ""},
                           {"", ""},
                           number_cell(run.genre.weighted_f1),
                           {"", ""}});
    sec.blocks.push_back(std::move(scores));
  }
  if (!confusion.empty()) {
    Table cm;
    cm.markdown_only = true;
    cm.header = {"true \\ predicted"};
    cm.header.insert(cm.header.end(), classes.begin(), classes.end());
    for (size_t r = 0; r < confusion.size(); ++r) {
      std::vector<Cell> row = {{r < classes.size() ? classes[r] : std::to_string(r), ""}};
      for (int64_t v : confusion[r]) row.push_back({std::to_string(v), "num"});
      cm.rows.push_back(std::move(row));
    }
    sec.blocks.push_back(std::move(cm));
  }
  return sec;
}

Section regression_run_section(const ExperimentRun& run) {
  Section sec = run_section_head(run);
  FigureRow figures;  // one row: the curves, then a scatter plot per target
  if (run.has_log) figures = {loss_curve(run), regression_metric_curve(run)};
  if (run.has_predictions) {
    const RegressionPredictions& p = run.regression_predictions;
    for (const std::string& target : p.targets) {
      const auto& truth = p.truth.at(target);
      const auto& predicted = p.predicted.at(target);
      svg::ScatterChart chart{.title = target +
                                       " — ρ = " + format_number(spearman_of(&run, target)) +
                                       " (n = " + std::to_string(truth.size()) + ")",
                              .x_label = "true " + target,
                              .y_label = "predicted " + target,
                              .x = truth,
                              .y = predicted};
      for (size_t i = 0; i < truth.size(); ++i)
        chart.tooltips.push_back((i < p.ids.size() ? "clip " + p.ids[i] + ": " : "") + "true " +
                                 format_number(truth[i]) + ", predicted " +
                                 format_number(predicted[i]));
      figures.push_back({svg::scatter_chart(chart),
                         "Test clips of " + run.name + ", predicted against true " + target +
                             "; the dashed diagonal is a perfect prediction."});
    }
  }
  if (!figures.empty()) sec.blocks.push_back(std::move(figures));
  if (run.has_metrics) {
    Table t;
    t.header = {"Target", "Spearman ρ", "p-value", "MSE"};
    const RegressionMetrics& m = run.regression;
    auto value = [](const std::map<std::string, double>& map, const std::string& key) {
      auto it = map.find(key);
      return it == map.end() ? NAN : it->second;
    };
    for (const std::string& target : m.targets) {
      const double p = value(m.pvalue, target);
      t.rows.push_back({{target, ""},
                        number_cell(value(m.spearman, target)),
                        {format_pvalue(p), std::isfinite(p) ? "num" : "na"},
                        number_cell(value(m.mse, target), 4)});
    }
    if (m.targets.size() > 1)
      t.rows.push_back({{"mean", ""}, number_cell(m.mean_spearman), {"", ""}, {"", ""}});
    sec.blocks.push_back(std::move(t));
  }
  return sec;
}

Section other_run_section(const ExperimentRun& run) {
  Section sec = run_section_head(run);
  if (run.has_log) sec.blocks.push_back(FigureRow{loss_curve(run)});
  if (run.has_metrics) {
    Table t;
    t.header = {"Metric", "Value"};
    // Numbers, strings and booleans up to two levels deep ("spearman.valence").
    for (const auto& [key, value] : run.raw_metrics.items()) {
      if (value.is_object()) {
        for (const auto& [sub, v] : value.items())
          if (v.is_primitive()) t.rows.push_back({{key + "." + sub, ""}, raw_value_cell(v)});
      } else if (value.is_primitive()) {
        t.rows.push_back({{key, ""}, raw_value_cell(value)});
      }
    }
    if (!t.rows.empty()) sec.blocks.push_back(std::move(t));
  }
  return sec;
}

}  // namespace melgrad::report
