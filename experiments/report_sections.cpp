// The study report's document tree (report_content.h): header facts and the data-set
// label, then the sections — summary, genre (LSTM vs CNN, features, full vs beat),
// per-attribute regression, transfer vs no transfer, multitask, the LSTM grid, other
// experiments and the list of every experiment with its status.
#include <algorithm>
#include <cmath>
#include <set>

#include "experiments/report_content.h"
#include "experiments/svg_charts.h"

namespace melgrad::report {
namespace {

const std::vector<std::string> kTargets = {"valence", "energy", "danceability"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string ours_label(const DatasetInfo& d) {
  if (!d.known) return "data set not recorded";
  return d.synthetic ? "synthetic embedded data set" : "real patreco3";
}

Cell accuracy_cell(const ExperimentRun* run) {
  return run ? number_cell(run->genre.accuracy) : Cell{"not run", "na"};
}

// "not run" without a run, "—" when the run does not predict this target.
Cell rho_cell(const ExperimentRun* run, const std::string& target) {
  if (!run) return {"not run", "na"};
  if (!run->regression.spearman.count(target)) return {"—", "na"};
  return number_cell(spearman_of(run, target));
}

// Mean of the three attributes' rho over three runs (one per attribute), NaN unless all ran.
double mean_rho(const std::vector<const ExperimentRun*>& runs) {
  double sum = 0;
  for (size_t i = 0; i < kTargets.size(); ++i) {
    const double v = spearman_of(runs[i], kTargets[i]);
    if (!std::isfinite(v)) return NAN;
    sum += v;
  }
  return sum / 3;
}

std::string clips_text(bool beat) { return beat ? "beat-synced" : "full"; }

Cell totals_cell(const ExperimentRun& r) {
  if (r.totals.best_epoch < 0 && r.totals.epochs_run < 0) return {"n/a", "na"};
  auto text = [](int64_t v) { return v < 0 ? std::string("?") : std::to_string(v); };
  return {text(r.totals.best_epoch) + " / " + text(r.totals.epochs_run), "num"};
}

Cell time_cell(const ExperimentRun& r) {
  return {format_duration(r.totals.train_seconds),
          std::isfinite(r.totals.train_seconds) ? "num" : "na"};
}

// Published genre accuracies (real patreco3) of the standard genre experiments.
double published_genre_accuracy(const ExperimentRun& r) {
  if (r.traits.features != "mel") return NAN;
  if (r.traits.model == "cnn") return r.traits.beat ? 0.35 : 0.43;
  if (r.traits.model == "lstm" && !r.traits.beat) return 0.36;
  return NAN;
}

Section genre_section(const StudyData& s, const std::string& ours) {
  Section sec{.id = "genre", .title = "Genre classification: LSTM vs CNN"};
  sec.blocks.push_back(Paragraph{
      "Ten genres after the study's class mapping; accuracy on the test split with the "
      "checkpoint of the best validation loss. Features: mel spectrogram (128 rows), chroma "
      "(12) or both fused (140); clips full-length or beat-synchronised."});
  // LSTM vs CNN for every feature / clip combination the study ran (standard ones first).
  const auto combos = genre_feature_clips(s);
  Table versus;
  versus.header = {"Features", "Clips", "CNN accuracy", "LSTM accuracy"};
  for (const auto& [features, beat] : combos)
    versus.rows.push_back({{features, ""},
                           {clips_text(beat), ""},
                           accuracy_cell(find_genre_run(s, "cnn", features, beat)),
                           accuracy_cell(find_genre_run(s, "lstm", features, beat))});
  versus.footnotes = {"Data set: " + ours + ". Chance is 0.100 for 10 balanced classes."};
  sec.blocks.push_back(std::move(versus));

  Table all;
  all.header = {"Experiment",        "Model",        "Features",    "Clips",
                "Accuracy",          "Macro F1",     "Weighted F1", "Test clips",
                "Best / run epochs", "Training time"};
  svg::BarChart bars{.title = "Genre accuracy on the test split", .value_label = "accuracy"};
  svg::BarSeries ours_bars{.name = "ours (" + ours + ")"};
  svg::BarSeries published_bars{.name = "published (real patreco3)", .label_missing = false};
  size_t classes = 0;
  for (const ExperimentRun& r : s.runs) {
    if (!r.is_genre()) continue;
    const Cell missing = {"not run", "na"};
    all.rows.push_back(
        {{r.name, ""},
         {r.traits.model, ""},
         {r.traits.features, ""},
         {clips_text(r.traits.beat), ""},
         r.has_metrics ? number_cell(r.genre.accuracy) : missing,
         r.has_metrics ? number_cell(r.genre.macro_f1) : Cell{"", ""},
         r.has_metrics ? number_cell(r.genre.weighted_f1) : Cell{"", ""},
         r.totals.test_clips >= 0 ? Cell{std::to_string(r.totals.test_clips), "num"} : Cell{"", ""},
         totals_cell(r),
         time_cell(r)});
    bars.categories.push_back(r.name);
    ours_bars.values.push_back(r.has_metrics ? r.genre.accuracy : NAN);
    published_bars.values.push_back(published_genre_accuracy(r));
    classes = std::max(classes, r.genre.classes.size());
  }
  if (all.rows.empty()) {
    sec.blocks.push_back(Paragraph{"No genre experiment in this study.", true});
    return sec;
  }
  sec.blocks.push_back(std::move(all));
  bars.series = {ours_bars, published_bars};
  if (classes > 0)
    bars.references.push_back({1.0 / static_cast<double>(classes), "chance", "#b00"});
  bars.value_range = std::make_pair(0.0, 0.5);
  sec.blocks.push_back(FigureRow{{svg::bar_chart(bars),
                                  "Our test accuracy per experiment beside the published figure "
                                  "where the study reports one (real patreco3)."}});
  for (const ExperimentRun& r : s.runs)
    if (r.is_genre()) sec.children.push_back(genre_run_section(r));
  return sec;
}

Section regression_section(const StudyData& s, const std::string& ours) {
  Section sec{.id = "regression", .title = "Regression per attribute: CNN vs LSTM"};
  sec.blocks.push_back(Paragraph{
      "Valence, energy and danceability (values in [0, 1]) predicted from mel spectrograms; "
      "Spearman rank correlation on the test split. CNN and LSTM train one model per "
      "attribute; the transfer and multitask columns are the sections below."});
  std::vector<const ExperimentRun*> cnn, lstm;
  for (const std::string& t : kTargets) {
    cnn.push_back(find_regress_run(s, "cnn", t));
    lstm.push_back(find_regress_run(s, "lstm", t));
  }
  const ExperimentRun* transfer = find_kind_run(s, "transfer");
  const ExperimentRun* multitask = find_kind_run(s, "multitask");
  Table per_attribute;
  per_attribute.header = {"Attribute", "CNN", "LSTM", "CNN + transfer", "Multitask CNN"};
  svg::BarChart bars{.title = "Spearman ρ per attribute (test split)", .value_label = "Spearman ρ"};
  bars.series = {
      {.name = "CNN"}, {.name = "LSTM"}, {.name = "CNN + transfer"}, {.name = "multitask CNN"}};
  for (size_t i = 0; i < kTargets.size(); ++i) {
    const std::string& t = kTargets[i];
    per_attribute.rows.push_back({{t, ""},
                                  rho_cell(cnn[i], t),
                                  rho_cell(lstm[i], t),
                                  rho_cell(transfer, t),
                                  rho_cell(multitask, t)});
    bars.categories.push_back(t);
    bars.series[0].values.push_back(spearman_of(cnn[i], t));
    bars.series[1].values.push_back(spearman_of(lstm[i], t));
    bars.series[2].values.push_back(spearman_of(transfer, t));
    bars.series[3].values.push_back(spearman_of(multitask, t));
  }
  per_attribute.rows.push_back(
      {{"mean (V, E, D)", ""},
       number_cell(mean_rho(cnn)),
       number_cell(mean_rho(lstm)),
       {"", ""},
       multitask ? number_cell(multitask->regression.mean_spearman) : Cell{"not run", "na"}});
  per_attribute.footnotes = {"Data set: " + ours +
                             ". Published means (real patreco3, other "
                             "lab solutions): LSTM 0.471, CNN 0.646, multitask 0.744."};
  sec.blocks.push_back(std::move(per_attribute));
  sec.blocks.push_back(FigureRow{{svg::bar_chart(bars),
                                  "Test Spearman per attribute and model; n/a = not run or "
                                  "undefined."}});

  Table runs;
  runs.header = {"Experiment",   "Model", "Target",     "Spearman ρ",
                 "p-value",      "MSE",   "Test clips", "Best / run epochs",
                 "Training time"};
  for (const ExperimentRun& r : s.runs) {
    if (r.kind != "regress") continue;
    const std::string target = r.traits.targets.empty() ? "" : r.traits.targets[0];
    const double p = r.regression.pvalue.count(target) ? r.regression.pvalue.at(target) : NAN;
    const double mse = r.regression.mse.count(target) ? r.regression.mse.at(target) : NAN;
    runs.rows.push_back(
        {{r.name, ""},
         {r.traits.model, ""},
         {target, ""},
         r.has_metrics ? rho_cell(&r, target) : Cell{"not run", "na"},
         {format_pvalue(p), std::isfinite(p) ? "num" : "na"},
         number_cell(mse, 4),
         r.totals.test_clips >= 0 ? Cell{std::to_string(r.totals.test_clips), "num"} : Cell{"", ""},
         totals_cell(r),
         time_cell(r)});
    sec.children.push_back(regression_run_section(r));
  }
  if (!runs.rows.empty()) sec.blocks.push_back(std::move(runs));
  return sec;
}

Section transfer_section(const StudyData& s, const std::string& ours) {
  Section sec{.id = "transfer", .title = "Transfer learning vs training from scratch (valence)"};
  sec.blocks.push_back(
      Paragraph{"The transfer run starts from the CNN trained on beat-synced genre classification, "
                "replaces its last two fully connected layers and fine-tunes on valence; the "
                "baseline is the same CNN trained on valence from scratch."});
  const ExperimentRun* scratch = find_regress_run(s, "cnn", "valence");
  const ExperimentRun* transfer = find_kind_run(s, "transfer");
  Table t;
  t.header = {"Valence model",
              "Our experiment",
              "Ours: Spearman ρ (" + ours + ")",
              "p-value",
              "MSE",
              "Seed report (published, real patreco3)"};
  t.column_class = {"", "", "ours", "", "", "pub"};
  auto row = [&](const std::string& label, const ExperimentRun* r, const std::string& published) {
    const auto value = [&](const std::map<std::string, double>& m) {
      return r && m.count("valence") ? m.at("valence") : NAN;
    };
    const double p = r ? value(r->regression.pvalue) : NAN;
    t.rows.push_back({{label, ""},
                      {r ? r->name : "not run", r ? "" : "na"},
                      rho_cell(r, "valence"),
                      {format_pvalue(p), std::isfinite(p) ? "num" : "na"},
                      number_cell(r ? value(r->regression.mse) : NAN, 4),
                      {published, "num"}});
  };
  row("CNN from scratch", scratch, "≈ 0.40");
  row("CNN with transfer from genre", transfer, "≈ 0.49");
  const double gain = spearman_of(transfer, "valence") - spearman_of(scratch, "valence");
  t.rows.push_back({{"gain from transfer", ""},
                    {"", ""},
                    number_cell(gain),
                    {"", ""},
                    {"", ""},
                    {"≈ +0.09", "num"}});
  sec.blocks.push_back(std::move(t));
  svg::BarChart bars{.title = "Valence Spearman: scratch vs transfer",
                     .value_label = "Spearman ρ",
                     .categories = {"from scratch", "with transfer"}};
  bars.series = {{.name = "ours (" + ours + ")",
                  .values = {spearman_of(scratch, "valence"), spearman_of(transfer, "valence")}},
                 {.name = "seed report (real patreco3)", .values = {0.40, 0.49}}};
  sec.blocks.push_back(
      FigureRow{{svg::bar_chart(bars), "Valence Spearman without and with transfer."}});
  for (const ExperimentRun& r : s.runs)
    if (r.kind == "transfer") sec.children.push_back(regression_run_section(r));
  return sec;
}

Section multitask_section(const StudyData& s, const std::string& ours) {
  Section sec{.id = "multitask", .title = "Multitask: one CNN, three heads"};
  sec.blocks.push_back(
      Paragraph{"A shared convolutional trunk with one head per attribute, trained on the weighted "
                "sum of the three MSE losses; compared with the single-task CNNs and the published "
                "multitask figures."});
  const ExperimentRun* multitask = find_kind_run(s, "multitask");
  std::vector<const ExperimentRun*> single;
  for (const std::string& t : kTargets) single.push_back(find_regress_run(s, "cnn", t));
  const std::vector<double> notebook = {0.240, 0.596, 0.383, 0.407};
  const std::vector<double> others = {0.668, 0.794, 0.768, 0.744};
  Table t;
  t.header = {"Attribute", "Ours: multitask (" + ours + ")", "Ours: single-task CNN (" + ours + ")",
              "Seed notebook multitask (published, real patreco3)",
              "Other lab solutions multitask (published, real patreco3)"};
  t.column_class = {"", "ours", "ours", "pub", "pub"};
  svg::BarChart bars{.title = "Multitask Spearman per attribute",
                     .value_label = "Spearman ρ",
                     .categories = {"valence", "energy", "danceability", "mean"}};
  bars.series = {{.name = "ours: multitask"},
                 {.name = "ours: single-task CNN"},
                 {.name = "seed notebook"},
                 {.name = "other solutions"}};
  for (size_t i = 0; i <= kTargets.size(); ++i) {
    const bool mean = i == kTargets.size();
    const double m = mean ? (multitask ? multitask->regression.mean_spearman : NAN)
                          : spearman_of(multitask, kTargets[i]);
    const double one = mean ? mean_rho(single) : spearman_of(single[i], kTargets[i]);
    t.rows.push_back({{mean ? "mean (V, E, D)" : kTargets[i], ""},
                      multitask ? number_cell(m) : Cell{"not run", "na"},
                      mean || single[i] ? number_cell(one) : Cell{"not run", "na"},
                      number_cell(notebook[i]),
                      number_cell(others[i])});
    bars.series[0].values.push_back(m);
    bars.series[1].values.push_back(one);
    bars.series[2].values.push_back(notebook[i]);
    bars.series[3].values.push_back(others[i]);
  }
  sec.blocks.push_back(std::move(t));
  sec.blocks.push_back(FigureRow{{svg::bar_chart(bars),
                                  "Ours beside the published multitask "
                                  "figures."}});
  for (const ExperimentRun& r : s.runs)
    if (r.kind == "multitask") sec.children.push_back(regression_run_section(r));
  return sec;
}

Section grid_section(const StudyData& s) {
  Section sec{.id = "grid", .title = "LSTM regression grid"};
  sec.blocks.push_back(
      Paragraph{"Hidden size, layers, learning rate and loss searched for the LSTM regressor; rows "
                "sorted by best validation loss, the kept configuration marked."});
  for (const ExperimentRun& r : s.runs) {
    if (r.kind != "grid") continue;
    Section child{.id = anchor_id(r.name),
                  .title = r.name + (r.title.empty() ? "" : " — " + r.title)};
    for (const std::string& note : r.notes) child.blocks.push_back(Paragraph{note, true});
    std::vector<GridRow> rows = r.grid_rows;
    std::stable_sort(rows.begin(), rows.end(), [](const GridRow& a, const GridRow& b) {
      const double x = std::isfinite(a.best_val_loss) ? a.best_val_loss : INFINITY;
      const double y = std::isfinite(b.best_val_loss) ? b.best_val_loss : INFINITY;
      return x < y;
    });
    Table t;
    t.header = {"Hidden", "Layers",        "Learning rate",   "Loss",
                "Target", "Best val loss", "Test Spearman ρ", ""};
    for (const GridRow& g : rows) {
      const bool best = r.has_grid_best && g.dir == r.grid_best.dir &&
                        g.hidden == r.grid_best.hidden && g.layers == r.grid_best.layers &&
                        g.loss == r.grid_best.loss;
      t.rows.push_back({{std::to_string(g.hidden), "num"},
                        {std::to_string(g.layers), "num"},
                        {format_pvalue(g.lr), "num"},
                        {g.loss, ""},
                        {g.target, ""},
                        number_cell(g.best_val_loss, 4),
                        number_cell(g.spearman),
                        {best ? "kept" : "", best ? "best" : ""}});
    }
    if (!t.rows.empty()) child.blocks.push_back(std::move(t));
    sec.children.push_back(std::move(child));
  }
  return sec;
}

std::string main_result(const ExperimentRun& r) {
  if (!r.has_metrics) return "";
  if (r.is_genre()) return "accuracy " + format_number(r.genre.accuracy);
  if (r.is_regression() || r.kind == "grid") {
    if (r.regression.targets.size() == 1)
      return "ρ " + r.regression.targets[0] + " " +
             format_number(spearman_of(&r, r.regression.targets[0]));
    return "mean ρ " + format_number(r.regression.mean_spearman);
  }
  return "see its section";
}

Section experiments_section(const StudyData& s) {
  Section sec{.id = "experiments", .title = "Every experiment and its files"};
  Table t;
  t.header = {"#", "Experiment", "Kind", "Title", "Status", "Result", "Notes"};
  std::set<std::string> present;
  for (size_t i = 0; i < s.runs.size(); ++i) {
    const ExperimentRun& r = s.runs[i];
    present.insert(r.name);
    std::string notes;
    for (const std::string& n : r.notes) notes += (notes.empty() ? "" : "; ") + n;
    const std::string status = r.has_metrics     ? "finished"
                               : r.folder_exists ? "no metrics (failed or interrupted)"
                                                 : "not run (no run folder)";
    t.rows.push_back({{std::to_string(i + 1), "num"},
                      {r.name, "", anchor_id(r.name)},
                      {r.kind, r.known_kind ? "" : "na"},
                      {r.title, ""},
                      {status, r.has_metrics ? "" : "na"},
                      {main_result(r), ""},
                      {notes, notes.empty() ? "" : "na"}});
  }
  if (t.rows.empty())
    sec.blocks.push_back(Paragraph{"study.json lists no experiments.", true});
  else
    sec.blocks.push_back(std::move(t));
  std::string missing;
  for (const std::string& name : standard_experiment_names())
    if (!present.count(name)) missing += (missing.empty() ? "" : ", ") + name;
  if (!missing.empty())
    sec.blocks.push_back(Paragraph{
        "Not run in this study (their rows above say \"not run\"): " + missing + ".", true});
  for (const std::string& note : s.notes) sec.blocks.push_back(Paragraph{note, true});
  sec.blocks.push_back(Paragraph{
      "Sources: " + s.dir + "/study.json, " + s.dir +
      "/metrics.json and in each run folder "
      "config.json, log.jsonl, metrics.json and predictions.json. Published figures: "
      "REFERENCE §3 (the seed lab report and notebook, and other published solutions of the "
      "same lab), all on the real patreco3 data set."});
  return sec;
}

}  // namespace

ReportContent build_report_content(const StudyData& s) {
  ReportContent c;
  c.title = "melgrad study report";
  c.dataset = s.dataset;
  if (!s.dataset.known) {
    c.dataset_label =
        "DATA SET NOT RECORDED — study.json does not say which data set produced "
        "these numbers.";
  } else if (s.dataset.synthetic) {
    c.dataset_label =
        "SYNTHETIC DATA — the embedded generated data set (the patreco3 layout, "
        "not real music). Our numbers check the pipeline; they are not comparable "
        "to the published figures, which come from the real patreco3 data set.";
  } else {
    c.dataset_label =
        "REAL DATA — the patreco3 data set (Free Music Archive clips). Our "
        "numbers are comparable to the published figures.";
  }
  size_t finished = 0;
  for (const ExperimentRun& r : s.runs) finished += r.has_metrics;
  c.facts = {
      {"Data set", s.dataset.name.empty() ? "(not recorded)" : s.dataset.name},
      {"Kind of data", !s.dataset.known      ? "unknown"
                       : s.dataset.synthetic ? upper("synthetic") + " (embedded, generated)"
                                             : upper("real") + " patreco3"},
      {"Data path", s.dataset.path.empty() ? "(not recorded)" : s.dataset.path},
      {"Device", s.device.empty() ? "(not recorded)" : s.device},
      {"Started", s.started.empty() ? "(not recorded)" : s.started},
      {"Total time", format_duration(s.seconds)},
      {"Experiments",
       std::to_string(finished) + " of " + std::to_string(s.runs.size()) + " finished"},
      {"Study folder", s.dir},
  };
  const std::string ours = ours_label(s.dataset);
  c.sections.push_back(summary_section(s, ours));
  c.sections.push_back(intervals_section(s));
  c.sections.push_back(eda_section(s));
  c.sections.push_back(genre_section(s, ours));
  c.sections.push_back(regression_section(s, ours));
  c.sections.push_back(transfer_section(s, ours));
  c.sections.push_back(multitask_section(s, ours));
  if (std::any_of(s.runs.begin(), s.runs.end(),
                  [](const ExperimentRun& r) { return r.kind == "grid"; }))
    c.sections.push_back(grid_section(s));
  Section other{.id = "other", .title = "Other experiments"};
  for (const ExperimentRun& r : s.runs)
    if (!r.known_kind) other.children.push_back(other_run_section(r));
  if (!other.children.empty()) {
    other.blocks.push_back(
        Paragraph{"Experiments of a kind this report does not know; their "
                  "metrics are listed as written.",
                  true});
    c.sections.push_back(std::move(other));
  }
  c.sections.push_back(experiments_section(s));
  return c;
}

}  // namespace melgrad::report
