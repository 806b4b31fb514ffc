// The whole study, in order (see study.h).
#include "experiments/study.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "experiments/distributed.h"
#include "experiments/grid.h"
#include "experiments/interrupt.h"
#include "experiments/recipe_seed.h"
#include "experiments/seeds.h"
#if __has_include("experiments/report.h")
#include "experiments/report.h"
#define MELGRAD_HAVE_REPORT 1
#endif

namespace fs = std::filesystem;

namespace melgrad::experiments {

namespace {

// CPU seconds (user + system, all threads) this process has used so far.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Epochs per experiment for the default study (budget: README's main command, 15 minutes
// on 2 cores including the build; docs/EXPERIMENTS.md has the measured times); early
// stopping may end a run sooner. The full-clip runs cost 3-5x a beat-synchronised one.
struct Budget {
  int64_t genre_full_cnn = 20, genre_full_lstm = 16, genre_beat = 30, genre_beat_features = 24,
          regress = 24, transfer = 30, multitask = 30;
};

ExperimentSpec base_spec(const StudyOptions& o, ExperimentKind kind, const std::string& model,
                         bool beat) {
  ExperimentSpec s;
  s.kind = kind;
  s.model = model;
  s.beat = beat;
  apply_recipe_defaults(s);
  apply_study_options(s, o);
  return s;
}

}  // namespace

void apply_study_options(ExperimentSpec& s, const StudyOptions& o) {
  s.seed = o.seed;
  s.cnn.frames = o.cnn_frames;
  s.data_dir = o.data_dir;
  s.progress_bar = o.progress_bar;
  s.device = o.device;
  s.cuda_graphs = o.cuda_graphs;
  s.deterministic = o.deterministic;
  s.strict = o.strict;
  s.data_parallel = o.data_parallel;
  s.stream = o.stream;
}

namespace {

// The default recipe's experiments (the list in study.h).
std::vector<StudyExperiment> default_study_plan(const StudyOptions& o) {
  const Budget b;
  auto epochs = [&](int64_t e) {
    return o.quick ? std::min<int64_t>(e, 2) : o.epochs > 0 ? std::min(e, o.epochs) : e;
  };
  std::vector<StudyExperiment> plan;
  auto add = [&](std::string name, std::string kind, std::string title, ExperimentSpec s,
                 int64_t e) {
    s.epochs = epochs(e);
    s.label = name;
    s.out = (fs::path(o.out) / name).string();
    plan.push_back(
        {std::move(name), std::move(kind), std::move(title), std::move(s), std::nullopt});
  };

  add("genre-cnn-mel", "genre", "CNN on mel spectrograms, full clips",
      base_spec(o, ExperimentKind::genre, "cnn", false), b.genre_full_cnn);
  add("genre-lstm-mel", "genre", "BiLSTM on mel spectrograms, full clips",
      base_spec(o, ExperimentKind::genre, "lstm", false), b.genre_full_lstm);
  add("genre-cnn-mel-beat", "genre", "CNN on beat-synchronised mel spectrograms",
      base_spec(o, ExperimentKind::genre, "cnn", true), b.genre_beat);
  for (const char* f : {"mel", "chroma", "fused"}) {
    ExperimentSpec s = base_spec(o, ExperimentKind::genre, "lstm", true);
    s.features = f;
    add(std::string("genre-lstm-") + f + "-beat", "genre",
        std::string("BiLSTM on beat-synchronised ") + (std::string(f) == "mel" ? "mel spectrograms"
                                                       : std::string(f) == "chroma"
                                                           ? "chromagrams"
                                                           : "fused mel + chroma"),
        s, std::string(f) == "mel" ? b.genre_beat : b.genre_beat_features);
  }
  for (const char* model : {"cnn", "lstm"})
    for (const char* target : {"valence", "energy", "danceability"}) {
      ExperimentSpec s = base_spec(o, ExperimentKind::regress, model, true);
      s.targets = {target};
      add(std::string("regress-") + model + "-" + target, "regress",
          std::string(std::string(model) == "cnn" ? "CNN" : "BiLSTM") + " regression of " + target +
              " (beat-synchronised mel)",
          s, b.regress);
    }
  {
    ExperimentSpec s = base_spec(o, ExperimentKind::transfer, "cnn", true);
    s.targets = {"valence"};
    s.transfer_from = (fs::path(o.out) / "genre-cnn-mel-beat").string();
    add("transfer-valence", "transfer",
        "CNN regression of valence starting from the beat genre CNN (transfer)", s, b.transfer);
    s.freeze_trunk = true;
    add("transfer-valence-frozen", "transfer",
        "CNN regression of valence from the beat genre CNN, convolutional trunk frozen (transfer)",
        s, b.transfer);
  }
  {
    ExperimentSpec s = base_spec(o, ExperimentKind::multitask, "cnn", true);
    s.targets = {"valence", "energy", "danceability"};
    s.target_weights = {0.5, 0.1, 0.4};
    add("multitask", "multitask",
        "Multitask CNN: shared trunk, valence/energy/danceability heads (0.5/0.1/0.4)", s,
        b.multitask);
  }
  if (o.with_grid) {
    ExperimentSpec s = base_spec(o, ExperimentKind::regress, "lstm", true);
    s.epochs = epochs(b.regress);
    plan.push_back({"grid-valence", "grid",
                    "BiLSTM regression grid on valence (hidden 200, layers 2/3, lr x loss)", s,
                    std::nullopt});
    plan.back().spec.out = (fs::path(o.out) / "grid-valence").string();
  }
  return plan;
}

}  // namespace

std::vector<StudyExperiment> study_plan(const StudyOptions& o) {
  std::vector<StudyExperiment> plan =
      o.recipe == "seed" ? seed_study_plan(o) : default_study_plan(o);
  if (!o.only.empty()) {
    std::vector<StudyExperiment> chosen;
    for (const std::string& n : o.only) {
      auto it = std::find_if(plan.begin(), plan.end(),
                             [&](const StudyExperiment& e) { return e.name == n; });
      if (it == plan.end())
        throw std::invalid_argument("study: --only names unknown experiment '" + n + "'");
      chosen.push_back(*it);
    }
    plan = chosen;
  }
  return plan;
}

int run_study(const StudyOptions& o) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const bool writer = dist::world().rank() == 0;  // mpirun: rank 0 alone writes
  RunFolderLock lock;  // held until the study ends: a second study on --out is refused
  if (writer) lock = lock_parent_run_dir(o.out, !o.resume);
  const fs::path dir(o.out);
  const std::vector<StudyExperiment> plan = study_plan(o);

  nlohmann::json study = {{"dataset", describe_data_dir(o.data_dir).to_json()},
                          {"device", o.device},
                          {"started", iso_time_now()},
                          {"seconds", 0.0},
                          {"quick", o.quick},
                          {"training_seeds", o.seeds},
                          {"experiments", nlohmann::json::array()}};
  if (o.recipe != "default") study["recipe"] = o.recipe;  // only when set: as before otherwise
  double seconds_before = 0;                              // of earlier sessions of a resumed study
  if (o.resume && fs::exists(dir / "study.json")) {
    const nlohmann::json old = read_json_file((dir / "study.json").string());
    study["started"] = old.value("started", study["started"].get<std::string>());
    seconds_before = old.value("seconds", 0.0);
    if (old.value("training_seeds", int64_t(1)) != o.seeds)
      throw std::runtime_error("study: " + (dir / "study.json").string() +
                               " was run with --seeds " +
                               std::to_string(old.value("training_seeds", int64_t(1))) +
                               "; resume it with the same --seeds");
    // Experiments of earlier sessions stay listed (also those outside this session's --only).
    study["experiments"] = old.value("experiments", nlohmann::json::array());
  }
  nlohmann::json all_metrics = nlohmann::json::object();
  if (o.resume && fs::exists(dir / "metrics.json"))
    all_metrics = read_json_file((dir / "metrics.json").string());
  // Replaces the entry of the same name, or appends (run order).
  auto record = [&](const nlohmann::json& entry) {
    for (nlohmann::json& old : study["experiments"])
      if (old.value("name", "") == entry["name"]) {
        old = entry;
        return;
      }
    study["experiments"].push_back(entry);
  };
  auto listed = [&](const std::string& name) {
    for (const nlohmann::json& old : study["experiments"])
      if (old.value("name", "") == name) return true;
    return false;
  };
  auto save = [&] {
    study["seconds"] = seconds_before + std::chrono::duration<double>(Clock::now() - start).count();
    if (!writer) return;
    write_json_file((dir / "study.json").string(), study);
    write_json_file((dir / "metrics.json").string(), all_metrics);
  };
  std::fprintf(stderr, "study: %zu experiments on %s into %s%s\n", plan.size(),
               study["dataset"]["name"].get<std::string>().c_str(), o.out.c_str(),
               o.quick ? " (quick)" : "");
  InterruptGuard interrupt_guard;
  try {
    size_t index = 0;
    for (const StudyExperiment& e : plan) {
      ++index;
      const fs::path run = dir / e.name;
      std::fprintf(stderr, "\n== study %zu/%zu: %s — %s\n", index, plan.size(), e.name.c_str(),
                   e.title.c_str());
      nlohmann::json metrics;
      std::vector<std::string> seed_dirs;  // --seeds N > 1: EXP/seed-<S>, relative to the study
      std::vector<uint64_t> seeds_used;
      const Clock::time_point run_start = Clock::now();
      const double cpu_start = cpu_seconds();
      const bool finished = fs::exists(run / "metrics.json");
      if (o.resume && finished) {
        metrics = read_json_file((run / "metrics.json").string());
        std::fprintf(stderr, "%s: finished earlier, kept\n", e.name.c_str());
      } else if (e.kind == "grid") {
        GridSpec g;
        if (e.grid) g = *e.grid;
        g.base = e.spec;
        g.out = e.spec.out;
        if (!e.grid) {
          g.hidden = {200};
          g.layers = {2, 3};
        }
        g.resume = o.resume;
        metrics = run_grid(g);
      } else if (o.seeds > 1) {
        ExperimentSpec s = e.spec;
        s.mode = o.resume ? RunDirMode::resume : RunDirMode::fresh;
        const SeedRuns runs = run_seed_runs(s, o.seeds);
        metrics = runs.first_metrics;
        for (const std::string& d : runs.dirs) seed_dirs.push_back(e.name + "/" + d);
        seeds_used = runs.seeds;
      } else {
        ExperimentSpec s = e.spec;
        s.mode = !o.resume ? RunDirMode::fresh
                 : fs::exists(run / "last.h5") && fs::exists(run / "config.json")
                     ? RunDirMode::resume
                     : RunDirMode::force;
        if (s.mode == RunDirMode::resume) s.epochs_given = false;
        metrics = run_experiment(s);
      }
      all_metrics[e.name] = metrics;
      // Wall and CPU seconds (on a busy machine wall time says little); an experiment
      // finished in an earlier session keeps its entry.
      if (!(o.resume && finished && listed(e.name))) {
        nlohmann::json entry = {
            {"name", e.name},
            {"kind", e.kind},
            {"title", e.title},
            {"dir", e.name},
            {"max_epochs", e.spec.epochs},
            {"seconds", std::chrono::duration<double>(Clock::now() - run_start).count()},
            {"cpu_seconds", cpu_seconds() - cpu_start}};
        if (!seed_dirs.empty()) {
          entry["dir"] = seed_dirs.front();
          entry["seed_dirs"] = seed_dirs;
          entry["seeds"] = seeds_used;
        }
        record(entry);
      }
      save();
      if (interrupt_requested()) throw Interrupted("study: interrupted after " + e.name);
    }
  } catch (const Interrupted& ex) {
    save();
    std::fprintf(stderr, "%s\nstudy: stopped; continue with: melgrad study --out %s --resume\n",
                 ex.what(), o.out.c_str());
    return 130;
  }
  save();
  std::printf("\nstudy: %zu experiments in %.0f s (this session; %.0f CPU seconds) on %s\n",
              plan.size(), std::chrono::duration<double>(Clock::now() - start).count(),
              cpu_seconds(), study["dataset"]["name"].get<std::string>().c_str());
  for (const auto& [name, m] : all_metrics.items())
    std::printf("  %-24s %s\n", name.c_str(), metrics_summary(m).c_str());
#ifdef MELGRAD_HAVE_REPORT
  if (!writer) return 0;
  report::ReportFiles files = report::write_study_report(o.out);
  std::printf("report: %s (also %s)\n", files.html.c_str(), files.markdown.c_str());
#else
  std::printf(
      "report: this build has no report writer yet (experiments/report.h); results are in "
      "%s/metrics.json\n",
      o.out.c_str());
#endif
  return 0;
}

}  // namespace melgrad::experiments
