// `melgrad evaluate --run RUN`: rebuilds a run's network from its config.json, loads its
// best.h5, and scores it on a split of the run's data (the test split by default):
// classification report and confusion matrix, or Spearman per attribute. Label rows whose
// clip file is missing are skipped with a line on stderr, or an error with --strict.
#include <cstdio>
#include <filesystem>

#include "engine/io/tensor_file.h"
#include "experiments/cli.h"
#include "experiments/evaluation.h"
#include "experiments/experiment.h"
#include "experiments/experiment_cli.h"
#include "experiments/metrics.h"
#include "experiments/model_config.h"
#include "experiments/run_config.h"
#include "experiments/seeds.h"

namespace melgrad {
namespace {

using namespace experiments;
namespace fs = std::filesystem;

int run_evaluate(const cli::Args& a) {
  apply_threads(a.integer("threads"));
  const Device device = check_device(a.str("device"));
  const fs::path run = a.str("run");
  const std::string split = a.str("split");
  if (split != "test" && split != "val" && split != "train")
    throw cli::UsageError("option --split expects test, val or train, got '" + split + "'");
  reject_seed_parent(run.string());
  nlohmann::json config = read_run_config(run.string());
  if (a.has("data")) config["data"]["path"] = a.str("data");
  RunData rd = load_run_data(config, a.flag("strict"));
  print_skipped_rows("evaluate", rd.data);
  const Task task = task_for_config(config);
  std::unique_ptr<models::Network> net =
      build_network(config.at("model_config"), config.at("seed").get<uint64_t>());
  io::load_module((run / "best.h5").string(), *net, /*strict=*/true);
  net->to(device);
  const std::vector<int64_t>& clips = split == "test"  ? rd.splits.test
                                      : split == "val" ? rd.splits.val
                                                       : rd.splits.train;
  Inference inf =
      run_inference(*net, rd.data, clips, task, input_shape_for(config.at("model_config")),
                    config.at("batch_size").get<int64_t>());
  nlohmann::json metrics = task_metrics(inf, task);
  if (a.flag("write")) {
    if (split != "test")
      throw cli::UsageError("--write rewrites the test metrics; use it with --split test");
    nlohmann::json old = fs::exists(run / "metrics.json")
                             ? read_json_file((run / "metrics.json").string())
                             : nlohmann::json::object();
    for (const char* k : {"best_epoch", "epochs_run", "train_seconds"})
      if (old.contains(k)) metrics[k] = old[k];
    write_json_file((run / "metrics.json").string(), metrics);
    write_json_file((run / "predictions.json").string(), predictions_json(inf, task));
  }
  if (a.flag("json")) {
    std::printf("%s\n", metrics.dump(2).c_str());
    return 0;
  }
  std::printf("%s (%s split of %s, best checkpoint %s)\n",
              config.value("label", config["command"].get<std::string>()).c_str(), split.c_str(),
              config["data"].value("name", std::string("?")).c_str(), (run / "best.h5").c_str());
  if (task.kind == TaskKind::classification) {
    std::printf("%s",
                metrics::classification_report(inf.labels, inf.predicted_classes(), task.classes)
                    .to_text()
                    .c_str());
  } else {
    std::printf("%-14s %9s %11s %9s\n", "target", "spearman", "p-value", "mse");
    for (const std::string& t : task.target_names) {
      const auto& r = metrics["spearman"][t];
      const auto& p = metrics["pvalue"][t];
      std::printf("%-14s %9.3f %11.3g %9.4f\n", t.c_str(), r.is_null() ? NAN : r.get<double>(),
                  p.is_null() ? NAN : p.get<double>(), metrics["mse"][t].get<double>());
    }
  }
  std::printf("%lld clips\n", (long long)inf.clips());
  return 0;
}

const cli::CommandRegistrar reg({
    .name = "evaluate",
    .summary = "score a finished run's best checkpoint on its test (or val/train) split",
    .options = {{"run", "RUN_DIR of a finished run", "", false, true},
                {"split", "test | val | train", "test"},
                {"data", "DATA_DIR if the data moved (default: the path in config.json)", ""},
                strict_option(),
                {"json", "print the metrics as JSON", "", true},
                {"write", "rewrite RUN/metrics.json and predictions.json from this evaluation", "",
                 true},
                {"device", "cpu | cuda", "cpu"},
                {"threads", "CPU threads (0: all cores)", "0"}},
    .positional_help = "",
    .run = run_evaluate,
});

}  // namespace
}  // namespace melgrad
