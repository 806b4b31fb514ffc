// The report's "Intervals and significance" section: every experiment's headline test
// metrics as mean ± std over its training seeds with the 95 % two-level bootstrap interval
// (seed_summary.h), and the study's comparisons — CNN vs LSTM (genre per feature set and
// clip kind, regression per target), transfer vs training from scratch (valence),
// multitask vs single-task (per target) — each with a paired bootstrap test on the test
// clips both sides share: the difference of the means over seeds, its 95 % interval, the
// two-sided p-value and Holm's adjustment over all the comparisons.
#include <algorithm>
#include <cmath>

#include "experiments/report_content.h"
#include "experiments/seed_summary.h"

namespace melgrad::report {
namespace {

const std::vector<std::string> kTargets = {"valence", "energy", "danceability"};

// The headline metrics of a run over its seeds; a note instead when they cannot be read.
struct RunMetrics {
  std::vector<MetricSeeds> metrics;
  std::string problem;
};

RunMetrics metrics_of(const ExperimentRun* run) {
  RunMetrics out;
  if (!run) return out;
  try {
    out.metrics = headline_metric_seeds(seed_runs_of(*run));
  } catch (const ReportError& e) {
    out.problem = e.what();
  }
  return out;
}

const MetricSeeds* find_metric(const RunMetrics& m, const std::string& name) {
  for (const MetricSeeds& x : m.metrics)
    if (x.metric == name) return &x;
  return nullptr;
}

std::string seeds_text(size_t n) { return std::to_string(n) + (n == 1 ? " seed" : " seeds"); }

struct Comparison {
  std::string family, what, metric;
  const ExperimentRun* a = nullptr;  // the side named first ("CNN", "transfer", "multitask")
  const ExperimentRun* b = nullptr;
  std::string a_role, b_role;
};

std::vector<Comparison> study_comparisons(const StudyData& s) {
  std::vector<Comparison> out;
  const auto combos = genre_feature_clips(s);
  for (const auto& [features, beat] : combos) {
    const ExperimentRun* cnn = find_genre_run(s, "cnn", features, beat);
    const ExperimentRun* lstm = find_genre_run(s, "lstm", features, beat);
    if (cnn || lstm)
      out.push_back({"CNN vs LSTM (genre)",
                     features + ", " + (beat ? "beat-synced" : "full") + " clips", "accuracy", cnn,
                     lstm, "CNN", "LSTM"});
  }
  for (const std::string& t : kTargets) {
    const ExperimentRun* cnn = find_regress_run(s, "cnn", t);
    const ExperimentRun* lstm = find_regress_run(s, "lstm", t);
    if (cnn || lstm)
      out.push_back({"CNN vs LSTM (regression)", t, "Spearman " + t, cnn, lstm, "CNN", "LSTM"});
  }
  const ExperimentRun* scratch = find_regress_run(s, "cnn", "valence");
  for (const ExperimentRun& r : s.runs)
    if (r.kind == "transfer" && r.has_metrics)
      out.push_back({"Transfer vs from scratch", r.name + " vs CNN from scratch",
                     "Spearman valence", &r, scratch, "transfer", "scratch"});
  if (const ExperimentRun* multitask = find_kind_run(s, "multitask"))
    for (const std::string& t : kTargets)
      out.push_back({"Multitask vs single-task", t, "Spearman " + t, multitask,
                     find_regress_run(s, "cnn", t), "multitask", "single-task CNN"});
  return out;
}

// The mean over seeds of `m` on all its test clips (NaN without predictions).
double mean_over_seeds(const MetricSeeds* m) {
  if (!m || m->seeds() == 0) return NAN;
  std::vector<int64_t> all(static_cast<size_t>(m->clips()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
  double sum = 0;
  for (size_t s = 0; s < m->seeds(); ++s) sum += m->value(s, all);
  return sum / double(m->seeds());
}

Cell side_cell(const ExperimentRun* run, double mean, size_t seeds) {
  if (!run) return {"not run", "na"};
  if (!std::isfinite(mean)) return {run->name + ": n/a", "na", anchor_id(run->name)};
  return {run->name + ": " + format_number(mean) + " (" + seeds_text(seeds) + ")", "num",
          anchor_id(run->name)};
}

Table headline_table(const StudyData& s, bool* any_seeds, std::vector<std::string>& notes) {
  Table t;
  t.header = {"Experiment",    "Metric",   "Seeds",     "Mean ± std",
              "95 % interval", "Per seed", "Test clips"};
  for (const ExperimentRun& r : s.runs) {
    if (!(r.is_genre() || r.is_regression()) || !r.has_metrics) continue;
    const RunMetrics m = metrics_of(&r);
    if (!m.problem.empty()) notes.push_back(r.name + ": " + m.problem);
    if (m.metrics.empty() && m.problem.empty())
      notes.push_back(r.name + ": no test predictions (predictions.json), so no interval");
    for (const MetricSummary& x : summarise(m.metrics)) {
      *any_seeds = *any_seeds || x.summary.per_seed.size() > 1;
      std::string per_seed;
      for (double v : x.summary.per_seed)
        per_seed += (per_seed.empty() ? "" : ", ") + format_number(v);
      t.rows.push_back({{r.name, "", anchor_id(r.name)},
                        {x.metric, ""},
                        {std::to_string(x.summary.per_seed.size()), "num"},
                        {mean_std_text(x.summary), std::isfinite(x.summary.mean) ? "num" : "na"},
                        {interval_text(x.summary.low, x.summary.high), "num"},
                        {per_seed, "num"},
                        {std::to_string(x.summary.clips), "num"}});
    }
  }
  return t;
}

Table comparison_table(const StudyData& s, std::vector<std::string>& notes) {
  Table t;
  t.header = {"Comparison",
              "Which",
              "Metric",
              "A",
              "B",
              "A − B [95 % interval]",
              "p",
              "Holm p",
              "Significant at 5 %",
              "Shared test clips"};
  struct Row {
    Comparison c;
    stats::Difference d;
    int64_t shared = 0;
    size_t seeds_a = 0, seeds_b = 0;
    bool tested = false;
  };
  std::vector<Row> rows;
  for (const Comparison& c : study_comparisons(s)) {
    Row row{c, {}, 0, 0, 0, false};
    row.d.mean_a = row.d.mean_b = row.d.estimate = row.d.p_value = NAN;
    const RunMetrics ma = metrics_of(c.a), mb = metrics_of(c.b);
    const MetricSeeds* a = find_metric(ma, c.metric);
    const MetricSeeds* b = find_metric(mb, c.metric);
    if (a) row.seeds_a = a->seeds();
    if (b) row.seeds_b = b->seeds();
    row.d.mean_a = mean_over_seeds(a);  // on all its clips; on the shared ones when tested
    row.d.mean_b = mean_over_seeds(b);
    if (a && b) {
      row.d = compare_metric(*a, *b, &row.shared);
      row.tested = row.shared > 0;
      if (!row.tested)
        notes.push_back(c.a->name + " and " + c.b->name + " share no test clip: not compared");
    } else if (c.a && c.b) {
      notes.push_back(c.a->name + " vs " + c.b->name + ": no predictions for " + c.metric);
    }
    rows.push_back(row);
  }
  std::vector<double> p;
  for (const Row& r : rows) p.push_back(r.tested ? r.d.p_value : NAN);
  const std::vector<double> holm = stats::holm_adjust(p);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    Cell verdict{"not tested", "na"};
    if (r.tested && std::isfinite(r.d.p_value)) {
      const bool significant = r.d.p_value < 0.05;
      const std::string better = r.d.estimate > 0 ? r.c.a_role : r.c.b_role;
      verdict.text = significant ? "yes: " + better + " better" : "no";
      if (significant && holm[i] >= 0.05) verdict.text += " (not after Holm)";
      verdict.style = significant ? "best" : "";
    }
    const std::string diff =
        r.tested ? format_number(r.d.estimate) + " " + interval_text(r.d.low, r.d.high) : "n/a";
    t.rows.push_back({{r.c.family, ""},
                      {r.c.what, ""},
                      {r.c.metric, ""},
                      side_cell(r.c.a, r.d.mean_a, r.seeds_a),
                      side_cell(r.c.b, r.d.mean_b, r.seeds_b),
                      {diff, r.tested ? "num" : "na"},
                      {format_pvalue(r.tested ? r.d.p_value : NAN), r.tested ? "num" : "na"},
                      {format_pvalue(holm[i]), r.tested ? "num" : "na"},
                      verdict,
                      {r.tested ? std::to_string(r.shared) : "—", r.tested ? "num" : "na"}});
  }
  return t;
}

}  // namespace

Section intervals_section(const StudyData& s) {
  Section sec{.id = "intervals", .title = "Intervals and significance"};
  std::vector<std::string> notes;
  bool any_seeds = false;
  Table headline = headline_table(s, &any_seeds, notes);
  const stats::BootstrapOptions o;
  sec.blocks.push_back(Paragraph{
      "Each experiment's headline test metrics with a 95 % percentile bootstrap interval (" +
      std::to_string(o.resamples) +
      " resamples, seeded). With several training seeds (--seeds N: seeds seed, seed+1, …; "
      "the split seed is fixed, so every seed is tested on the same clips) the value is the "
      "mean over seeds and the interval comes from a two-level bootstrap: resample the seeds, "
      "then the test clips (one clip resample shared by the drawn seeds), and average. It "
      "covers both the seed-to-seed and the test-clip variation; with few seeds (e.g. 3) it "
      "understates the seed part, since a resample of 3 values can take only 10 forms."});
  if (!any_seeds)
    sec.blocks.push_back(Paragraph{
        "Every experiment ran with one training seed: the intervals cover the test-clip "
        "variation only; training-seed variation is not covered (run the study with --seeds N "
        "to include it).",
        true});
  if (headline.rows.empty())
    sec.blocks.push_back(Paragraph{"No finished experiment with test predictions.", true});
  else
    sec.blocks.push_back(std::move(headline));

  Table comparisons = comparison_table(s, notes);
  sec.blocks.push_back(Paragraph{
      "The study's comparisons, each tested on the test clips both experiments were scored "
      "on (matched by clip id). Test: paired bootstrap of the difference of the metric (A − "
      "B, each side averaged over its seeds): every resample draws the test clips once for "
      "both sides and, where a side has several seeds, draws its seeds with replacement. "
      "The interval is the 2.5th–97.5th percentile of the resampled differences; the "
      "two-sided p-value is min(1, 2 (k + 1) / (R + 1)), k the resampled differences on the "
      "smaller side of 0, R the resamples — the smallest level at which the interval "
      "excludes 0. Holm p adjusts for running all the comparisons below together."});
  if (comparisons.rows.empty())
    sec.blocks.push_back(Paragraph{"None of the compared experiments ran.", true});
  else
    sec.blocks.push_back(std::move(comparisons));
  for (const std::string& n : notes) sec.blocks.push_back(Paragraph{n, true});
  return sec;
}

}  // namespace melgrad::report
