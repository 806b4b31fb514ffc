// `melgrad predict --run RUN FILE.npy...`: the genre (with its probability) or the
// valence/energy/danceability a finished run's best checkpoint predicts for clip files in
// the data set's format ((140, T) .npy or .npy.gz). The files are standardised with the
// run's training statistics and batched together; with BatchNorm on batch statistics (the
// study's setting) a prediction depends a little on the other clips of its batch.
#include <cstdio>
#include <filesystem>

#include "datasets/batcher.h"
#include "engine/autograd.h"
#include "engine/io/tensor_file.h"
#include "engine/ops/ops.h"
#include "experiments/cli.h"
#include "experiments/evaluation.h"
#include "experiments/experiment.h"
#include "experiments/seeds.h"
#include "experiments/model_config.h"

namespace melgrad {
namespace {

using namespace experiments;
namespace fs = std::filesystem;

int run_predict(const cli::Args& a) {
  apply_threads(a.integer("threads"));
  if (a.positionals().empty()) throw cli::UsageError("give one or more clip files (FILE.npy ...)");
  const Device device = check_device(a.str("device"));
  const fs::path run = a.str("run");
  reject_seed_parent(run.string());
  const nlohmann::json config = read_json_file((run / "config.json").string());
  const nlohmann::json& mc = config.at("model_config");
  const Task task = task_for_config(config);
  std::unique_ptr<models::Network> net = build_network(mc, config.at("seed").get<uint64_t>());
  io::load_module((run / "best.h5").string(), *net, /*strict=*/true);
  net->to(device);

  data::SubsetData files;
  files.features = data::parse_features(config.at("features").get<std::string>());
  files.feature_dim = data::feature_rows(files.features).count();
  for (const std::string& path : a.positionals()) {
    data::ClipEntry e;
    e.id = fs::path(path).filename().string();
    e.path = path;
    files.clips.push_back(data::read_clip(e, files.features));
  }
  if (config.contains("standardisation")) {
    data::BandStats st{config["standardisation"].at("mean").get<std::vector<float>>(),
                       config["standardisation"].at("std").get<std::vector<float>>()};
    data::apply_band_stats(files, st);
  }
  const InputShape shape = input_shape_for(mc);
  const int64_t batch_size = config.at("batch_size").get<int64_t>();
  net->eval();
  NoGradGuard no_grad;
  nlohmann::json out = nlohmann::json::array();
  for (size_t start = 0; start < files.clips.size(); start += batch_size) {
    std::vector<int64_t> chunk;
    for (size_t i = start; i < std::min(files.clips.size(), start + size_t(batch_size)); ++i) chunk.push_back(int64_t(i));
    data::Batch b = data::make_batch(files, chunk, shape.pad_to, shape.crop_to);
    Tensor x = Tensor::from_vector(b.x, {b.shape[0], b.shape[1], b.shape[2]}).to(device);
    Tensor y = net->forward(x, Tensor::from_vector(b.lengths, {b.size()}).to(device));
    if (task.kind == TaskKind::classification) y = softmax(y, 1);
    const std::vector<double> v = y.to_vector();
    const int64_t cols = y.size(1);
    for (int64_t i = 0; i < b.size(); ++i) {
      const std::string& path = a.positionals()[chunk[i]];
      nlohmann::json row = {{"file", path}};
      if (task.kind == TaskKind::classification) {
        int64_t best = 0;
        for (int64_t c = 1; c < cols; ++c)
          if (v[i * cols + c] > v[i * cols + best]) best = c;
        row["genre"] = task.classes[best];
        row["probability"] = v[i * cols + best];
        if (!a.flag("json")) std::printf("%s\t%s\t%.3f\n", path.c_str(), task.classes[best].c_str(), v[i * cols + best]);
      } else {
        std::string line = path;
        for (int64_t c = 0; c < cols; ++c) {
          row[task.target_names[c]] = v[i * cols + c];
          char buf[64];
          std::snprintf(buf, sizeof buf, "\t%s %.3f", task.target_names[c].c_str(), v[i * cols + c]);
          line += buf;
        }
        if (!a.flag("json")) std::printf("%s\n", line.c_str());
      }
      out.push_back(row);
    }
  }
  if (a.flag("json")) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

const cli::CommandRegistrar reg({
    .name = "predict",
    .summary = "predict genre or valence/energy/danceability for clip files with a finished run",
    .options = {{"run", "RUN_DIR of a finished run", "", false, true},
                {"json", "print a JSON array, one object per file", "", true},
                {"device", "cpu | cuda", "cpu"},
                {"threads", "CPU threads (0: all cores)", "0"}},
    .positional_help = "FILE.npy...",
    .run = run_predict,
});

}  // namespace
}  // namespace melgrad
