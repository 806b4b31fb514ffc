// Headline metrics over seeds and their comparisons: see seed_summary.h.
#include "experiments/seed_summary.h"

#include <cmath>
#include <map>

#include "experiments/bootstrap.h"
#include "experiments/report_content.h"

namespace melgrad::report {

size_t MetricSeeds::seeds() const {
  return is_class_metric() ? predicted_class.size() : predicted.size();
}

double MetricSeeds::value(size_t seed, const std::vector<int64_t>& clips) const {
  if (metric == "accuracy") return stats::accuracy_of(truth_class, predicted_class[seed], clips);
  if (metric == "macro F1")
    return stats::macro_f1_of(truth_class, predicted_class[seed], classes, clips);
  return stats::spearman_of(truth, predicted[seed], clips);
}

MetricSeeds MetricSeeds::restricted_to(const std::vector<std::string>& keep) const {
  std::map<std::string, size_t> where;
  for (size_t i = 0; i < ids.size(); ++i) where[ids[i]] = i;
  MetricSeeds out = *this;
  out.ids = keep;
  auto pick = [&](auto& into, const auto& from) {
    into.clear();
    for (const std::string& id : keep) {
      auto it = where.find(id);
      if (it == where.end())
        throw ReportError("test clip '" + id + "' is not among " + metric + "'s clips");
      into.push_back(from[it->second]);
    }
  };
  if (is_class_metric()) {
    pick(out.truth_class, truth_class);
    for (size_t s = 0; s < predicted_class.size(); ++s)
      pick(out.predicted_class[s], predicted_class[s]);
  } else {
    pick(out.truth, truth);
    for (size_t s = 0; s < predicted.size(); ++s) pick(out.predicted[s], predicted[s]);
  }
  return out;
}

std::vector<const ExperimentRun*> seed_runs_of(const ExperimentRun& run) {
  std::vector<const ExperimentRun*> out;
  for (const ExperimentRun& r : run.seed_runs)
    if (r.has_predictions) out.push_back(&r);  // an interrupted study: the finished seeds
  if (out.empty()) out.push_back(&run);
  return out;
}

std::vector<MetricSeeds> headline_metric_seeds(const std::vector<const ExperimentRun*>& runs) {
  std::vector<MetricSeeds> out;
  if (runs.empty()) return out;
  for (const ExperimentRun* r : runs)
    if (!r->has_predictions) return out;
  const ExperimentRun& first = *runs.front();
  // Every seed must have been scored on the same clips with the same truth.
  auto same_clips = [&](const std::vector<std::string>& ids, const ExperimentRun& r) {
    const std::vector<std::string>& first_ids =
        first.is_genre() ? first.genre_predictions.ids : first.regression_predictions.ids;
    if (ids != first_ids)
      throw ReportError(r.folder + "/predictions.json: its test clips differ from those of " +
                        first.folder + " (seed runs of one experiment must share the split seed)");
  };
  if (first.is_genre()) {
    const GenrePredictions& g = first.genre_predictions;
    if (g.truth.empty()) return out;
    for (const char* name : {"accuracy", "macro F1"}) {
      MetricSeeds m;
      m.metric = name;
      m.ids = g.ids.empty() ? std::vector<std::string>(g.truth.size()) : g.ids;
      if (g.ids.empty())
        for (size_t i = 0; i < m.ids.size(); ++i) m.ids[i] = "#" + std::to_string(i);
      m.classes = int64_t(g.classes.size());
      m.truth_class = g.truth;
      for (const ExperimentRun* r : runs) {
        same_clips(r->genre_predictions.ids, *r);
        if (r->genre_predictions.truth != g.truth)
          throw ReportError(r->folder + "/predictions.json: its test labels differ from " +
                            first.folder + "'s");
        m.predicted_class.push_back(r->genre_predictions.predicted);
      }
      out.push_back(std::move(m));
    }
    return out;
  }
  const RegressionPredictions& p = first.regression_predictions;
  for (const std::string& t : p.targets) {
    MetricSeeds m;
    m.metric = "Spearman " + t;
    m.truth = p.truth.at(t);
    if (m.truth.size() < 3) continue;
    m.ids = p.ids;
    if (m.ids.empty())
      for (size_t i = 0; i < m.truth.size(); ++i) m.ids.push_back("#" + std::to_string(i));
    for (const ExperimentRun* r : runs) {
      same_clips(r->regression_predictions.ids, *r);
      auto it = r->regression_predictions.predicted.find(t);
      if (it == r->regression_predictions.predicted.end() || it->second.size() != m.truth.size())
        throw ReportError(r->folder + "/predictions.json: no " + std::to_string(m.truth.size()) +
                          " predictions of '" + t + "' like the other seeds");
      m.predicted.push_back(it->second);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<MetricSummary> summarise(const std::vector<MetricSeeds>& metrics,
                                     const stats::BootstrapOptions& options) {
  std::vector<MetricSummary> out;
  for (const MetricSeeds& m : metrics)
    out.push_back(
        {m.metric,
         stats::summarise_over_seeds(
             m.seeds(), m.clips(),
             [&](size_t s, const std::vector<int64_t>& ix) { return m.value(s, ix); }, options)});
  return out;
}

stats::Difference compare_metric(const MetricSeeds& a, const MetricSeeds& b, int64_t* shared_clips,
                                 const stats::BootstrapOptions& options) {
  std::map<std::string, bool> in_b;
  for (const std::string& id : b.ids) in_b[id] = true;
  std::vector<std::string> shared;
  for (const std::string& id : a.ids)
    if (in_b.count(id)) shared.push_back(id);
  if (shared_clips) *shared_clips = int64_t(shared.size());
  if (shared.empty()) {
    stats::Difference none;
    none.estimate = none.low = none.high = none.p_value = NAN;
    return none;
  }
  const MetricSeeds ra = a.restricted_to(shared), rb = b.restricted_to(shared);
  return stats::paired_difference(
      ra.seeds(), [&](size_t s, const std::vector<int64_t>& ix) { return ra.value(s, ix); },
      rb.seeds(), [&](size_t s, const std::vector<int64_t>& ix) { return rb.value(s, ix); },
      int64_t(shared.size()), options);
}

namespace {
// NaN as JSON null (nlohmann would write NaN as null anyway; explicit for readers).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }
}  // namespace

nlohmann::json seeds_summary_json(const std::vector<uint64_t>& seeds,
                                  const std::vector<std::string>& dirs,
                                  const std::vector<MetricSummary>& metrics,
                                  const stats::BootstrapOptions& options) {
  nlohmann::json out = {
      {"seeds", seeds},
      {"dirs", dirs},
      {"level", options.level},
      {"resamples", options.resamples},
      {"bootstrap_seed", options.seed},
      {"method",
       seeds.size() > 1
           ? "two-level percentile bootstrap of the mean over seeds: resample the seeds, then "
             "the test clips (one clip resample shared by the drawn seeds)"
           : "percentile bootstrap over the test clips; one training seed, so seed-to-seed "
             "variation is not covered"},
      {"metrics", nlohmann::json::object()}};
  for (const MetricSummary& m : metrics) {
    nlohmann::json values = nlohmann::json::array();
    for (double v : m.summary.per_seed) values.push_back(number(v));
    out["metrics"][m.metric] = {{"per_seed", values},
                                {"mean", number(m.summary.mean)},
                                {"std", number(m.summary.std)},
                                {"low", number(m.summary.low)},
                                {"high", number(m.summary.high)},
                                {"test_clips", m.summary.clips}};
  }
  return out;
}

std::string mean_std_text(const stats::SeedSummary& s, int decimals) {
  if (!std::isfinite(s.std)) return format_number(s.mean, decimals);
  return format_number(s.mean, decimals) + " ± " + format_number(s.std, decimals);
}

std::string interval_text(double low, double high, int decimals) {
  if (!std::isfinite(low) || !std::isfinite(high)) return "n/a";
  return "[" + format_number(low, decimals) + ", " + format_number(high, decimals) + "]";
}

}  // namespace melgrad::report
