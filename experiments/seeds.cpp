// Training one experiment over several seeds and summarising them: see seeds.h.
#include "experiments/seeds.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "engine/dist/transport.h"
#include "experiments/interrupt.h"
#include "experiments/seed_summary.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {

std::string seed_dir_name(uint64_t seed) { return "seed-" + std::to_string(seed); }

namespace {

// The genre run seed `seed` of a transfer starts from: GENRE/seed-<S> when the genre run
// has seed folders, else GENRE itself (every seed then starts from the same network).
std::string paired_transfer_source(const std::string& from, uint64_t seed) {
  const fs::path paired = fs::path(from) / seed_dir_name(seed);
  if (fs::exists(paired / "config.json")) return paired.string();
  if (!fs::exists(fs::path(from) / "config.json") && fs::exists(fs::path(from) / "seeds.json"))
    throw std::runtime_error("transfer: the genre run '" + from + "' has seed folders but no " +
                             seed_dir_name(seed) + " (see its seeds.json; pass --seed to match)");
  return from;
}

}  // namespace

SeedRuns run_seed_runs(const ExperimentSpec& base, int64_t count) {
  if (count < 1) throw std::invalid_argument("--seeds must be >= 1, got " + std::to_string(count));
  // mpirun: rank 0 names the parent folder, locks it and alone writes into it.
  dist::Transport& world = dist::world();
  const bool writer = world.rank() == 0;
  std::string parent = base.out;
  if (writer && parent.empty()) parent = default_run_dir(experiment_kind_name(base.kind));
  world.broadcast_bytes(parent, 0);
  const bool resume = base.mode == RunDirMode::resume;
  if (resume && !fs::is_directory(parent))
    throw std::runtime_error("cannot resume: '" + parent + "' is not a folder");
  RunFolderLock lock;  // held until every seed has run: a second run on the folder is refused
  if (writer) lock = lock_parent_run_dir(parent, base.mode == RunDirMode::fresh);
  const std::string label = base.label.empty() ? experiment_kind_name(base.kind) : base.label;

  SeedRuns out;
  out.parent = parent;
  for (int64_t k = 0; k < count; ++k) {
    const uint64_t seed = base.seed + uint64_t(k);
    const std::string name = seed_dir_name(seed);
    const fs::path dir = fs::path(parent) / name;
    ExperimentSpec s = base;
    s.seed = seed;
    s.out = dir.string();
    s.label = label + " " + name;
    if (!base.transfer_from.empty())
      s.transfer_from = paired_transfer_source(base.transfer_from, seed);
    nlohmann::json metrics;
    if (resume && fs::exists(dir / "metrics.json")) {
      metrics = read_json_file((dir / "metrics.json").string());
      std::fprintf(stderr, "%s: finished earlier, kept\n", s.label.c_str());
    } else {
      if (resume && fs::exists(dir / "last.h5") && fs::exists(dir / "config.json")) {
        s.mode = RunDirMode::resume;
      } else if (resume) {
        if (base.data_dir.empty())
          throw std::runtime_error(dir.string() +
                                   ": this seed never started, and --resume cannot tell its "
                                   "options; rerun the original command with --out " +
                                   parent + " --force to start over");
        s.mode = RunDirMode::force;
      }
      std::fprintf(stderr, "\n-- %s: training seed %llu (%lld of %lld)\n", label.c_str(),
                   static_cast<unsigned long long>(seed), static_cast<long long>(k + 1),
                   static_cast<long long>(count));
      metrics = run_experiment(s);
    }
    out.seeds.push_back(seed);
    out.dirs.push_back(name);
    if (k == 0) out.first_metrics = metrics;
    if (interrupt_requested() && k + 1 < count)
      throw Interrupted(label + ": interrupted after " + name + "; continue with --resume");
  }
  out.summary = summarise_seed_folders(parent, out.seeds, out.dirs);
  write_json_file((fs::path(parent) / "seeds.json").string(), out.summary);
  return out;
}

nlohmann::json summarise_seed_folders(const std::string& parent, const std::vector<uint64_t>& seeds,
                                      const std::vector<std::string>& dirs) {
  std::vector<report::ExperimentRun> runs;
  for (const std::string& d : dirs)
    runs.push_back(report::load_run((fs::path(parent) / d).string()));
  std::vector<const report::ExperimentRun*> pointers;
  for (const report::ExperimentRun& r : runs) pointers.push_back(&r);
  return report::seeds_summary_json(seeds, dirs,
                                    report::summarise(report::headline_metric_seeds(pointers)));
}

nlohmann::json single_experiment_study(const ExperimentSpec& base, const SeedRuns& runs) {
  const fs::path first = fs::path(runs.parent) / runs.dirs.front();
  const nlohmann::json config = read_json_file((first / "config.json").string());
  const fs::path parent = fs::absolute(runs.parent).lexically_normal();
  std::string name = parent.filename().string();
  if (name.empty()) name = parent.parent_path().filename().string();
  return {
      {"dataset", config.value("data", nlohmann::json())},
      {"device", config.value("device", std::string())},
      {"started", config.value("started", std::string())},
      {"seeds", runs.seeds},
      {"experiments",
       {{{"name", name},
         {"kind", experiment_kind_name(base.kind)},
         {"title", experiment_kind_name(base.kind) + " (" + config.value("model", std::string()) +
                       ", " + std::to_string(runs.seeds.size()) + " seeds)"},
         {"dir", runs.dirs.front()},
         {"seed_dirs", runs.dirs},
         {"seeds", runs.seeds}}}}};
}

cli::Option seeds_option() {
  return {"seeds",
          "train N times with the seeds seed, seed+1, ... (same split) into RUN/seed-<S>; "
          "RUN/seeds.json holds mean, std and 95 % intervals (docs/EXPERIMENTS.md)",
          "1"};
}

void check_seeds_option(const cli::Args& args) {
  if (args.has("seeds") && args.integer("seeds") < 1)
    throw cli::UsageError("option --seeds must be >= 1, got " + args.str("seeds"));
}

int run_seed_command(ExperimentSpec spec, int64_t count) {
  if (count < 1) throw cli::UsageError("option --seeds must be >= 1, got " + std::to_string(count));
  InterruptGuard interrupt_guard;
  const SeedRuns runs = run_seed_runs(spec, count);
  write_json_file((fs::path(runs.parent) / "study.json").string(),
                  single_experiment_study(spec, runs));
  print_seed_summary(spec.label.empty() ? experiment_kind_name(spec.kind) : spec.label,
                     runs.summary);
  std::printf("seeds: %s/seeds.json; report: melgrad report --run %s\n", runs.parent.c_str(),
              runs.parent.c_str());
  return 0;
}

void reject_seed_parent(const std::string& run_dir) {
  const fs::path dir(run_dir);
  if (fs::exists(dir / "config.json") || !fs::exists(dir / "seeds.json")) return;
  std::string names;
  for (const nlohmann::json& d :
       read_json_file((dir / "seeds.json").string()).value("dirs", nlohmann::json::array()))
    if (d.is_string()) names += (names.empty() ? "" : ", ") + (dir / d.get<std::string>()).string();
  throw cli::UsageError(
      "--run " + run_dir +
      " holds one run per training seed (seeds.json); pass one of them: " + names);
}

void print_seed_summary(const std::string& label, const nlohmann::json& summary) {
  const size_t n = summary.at("seeds").size();
  for (const auto& [metric, m] : summary.at("metrics").items()) {
    auto num = [&](const char* key) { return m[key].is_number() ? m[key].get<double>() : NAN; };
    stats::SeedSummary s;
    s.mean = num("mean");
    s.std = num("std");
    std::printf("%s: %s %s, 95 %% interval %s over %zu seed%s and %lld test clips\n", label.c_str(),
                metric.c_str(), report::mean_std_text(s).c_str(),
                report::interval_text(num("low"), num("high")).c_str(), n, n == 1 ? "" : "s",
                static_cast<long long>(m.value("test_clips", int64_t(0))));
  }
}

}  // namespace melgrad::experiments
