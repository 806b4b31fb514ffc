// Finding the study's experiments by what they are (report_content.h): by the traits of
// their config.json (kind, model, features, beat, targets), preferring the standard name
// when several match; only runs with metrics count.
#include <algorithm>
#include <cmath>
#include <functional>

#include "experiments/report_content.h"

namespace melgrad::report {

namespace {

const ExperimentRun* find_run(const StudyData& s, const std::string& preferred_name,
                              const std::function<bool(const ExperimentRun&)>& matches) {
  const ExperimentRun* found = nullptr;
  for (const ExperimentRun& r : s.runs) {
    if (!r.has_metrics || !matches(r)) continue;
    if (r.name == preferred_name) return &r;
    if (!found) found = &r;
  }
  return found;
}

std::vector<std::string> targets_of(const ExperimentRun& r) {
  return r.traits.targets.empty() ? r.regression.targets : r.traits.targets;
}

}  // namespace

const ExperimentRun* find_genre_run(const StudyData& s, const std::string& model,
                                    const std::string& features, bool beat) {
  return find_run(s, "genre-" + model + "-" + features + (beat ? "-beat" : ""),
                  [&](const ExperimentRun& r) {
                    return r.is_genre() && r.traits.model == model &&
                           r.traits.features == features && r.traits.beat == beat;
                  });
}

std::vector<std::pair<std::string, bool>> genre_feature_clips(const StudyData& s) {
  std::vector<std::pair<std::string, bool>> combos = {
      {"mel", false}, {"mel", true}, {"chroma", true}, {"fused", true}};
  for (const ExperimentRun& r : s.runs)
    if (r.is_genre() && std::find(combos.begin(), combos.end(),
                                  std::make_pair(r.traits.features, r.traits.beat)) == combos.end())
      combos.emplace_back(r.traits.features, r.traits.beat);
  return combos;
}

const ExperimentRun* find_regress_run(const StudyData& s, const std::string& model,
                                      const std::string& target) {
  return find_run(s, "regress-" + model + "-" + target, [&](const ExperimentRun& r) {
    const auto t = targets_of(r);
    return r.kind == "regress" && r.traits.model == model && t.size() == 1 && t[0] == target;
  });
}

const ExperimentRun* find_kind_run(const StudyData& s, const std::string& kind) {
  const std::string preferred = kind == "transfer" ? "transfer-valence" : kind;
  return find_run(s, preferred, [&](const ExperimentRun& r) { return r.kind == kind; });
}

double spearman_of(const ExperimentRun* run, const std::string& target) {
  if (!run) return NAN;
  auto it = run->regression.spearman.find(target);
  return it == run->regression.spearman.end() ? NAN : it->second;
}

}  // namespace melgrad::report
