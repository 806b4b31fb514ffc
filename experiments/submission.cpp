// The course's submission CSV from a finished multitask run (see submission.h).
#include "experiments/submission.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "datasets/batcher.h"
#include "datasets/file_io.h"
#include "engine/autograd.h"
#include "engine/io/tensor_file.h"
#include "experiments/batch_tensors.h"
#include "experiments/experiment.h"
#include "experiments/model_config.h"
#include "experiments/run_folder.h"

namespace melgrad::experiments {

namespace fs = std::filesystem;

namespace {

constexpr const char* kColumns[3] = {"valence", "energy", "danceability"};

// The network output column of each CSV column (valence, energy, danceability).
std::array<int64_t, 3> output_columns(const nlohmann::json& config,
                                      const std::string& config_path) {
  const std::string command = config.at("command").get<std::string>();
  if (command == "genre")
    throw std::runtime_error(config_path +
                             ": a genre run (command 'genre'); the submission needs a run that "
                             "predicts valence, energy and danceability (a multitask run)");
  const std::vector<std::string> targets = config.at("targets").get<std::vector<std::string>>();
  std::array<int64_t, 3> columns{};
  for (int c = 0; c < 3; ++c) {
    auto it = std::find(targets.begin(), targets.end(), kColumns[c]);
    if (it == targets.end()) {
      std::string have;
      for (const std::string& t : targets) have += (have.empty() ? "" : ", ") + t;
      throw std::runtime_error(config_path + ": the run predicts " + have + ", not " + kColumns[c] +
                               "; the submission needs all of valence, energy and danceability "
                               "(a multitask run)");
    }
    columns[c] = it - targets.begin();
  }
  return columns;
}

}  // namespace

std::vector<SubmissionRow> predict_submission_rows(const SubmissionOptions& o) {
  const fs::path run = o.run_dir;
  const std::string config_path = (run / "config.json").string();
  nlohmann::json config = read_json_file(config_path);
  const std::array<int64_t, 3> columns = output_columns(config, config_path);
  if (!o.data_dir.empty()) config["data"]["path"] = o.data_dir;

  const nlohmann::json& mc = config.at("model_config");
  std::unique_ptr<models::Network> net = build_network(mc, config.at("seed").get<uint64_t>());
  io::load_module((run / "best.h5").string(), *net, /*strict=*/true);
  net->to(o.device);
  net->eval();

  RunData rd = load_run_data(config);
  print_skipped_rows("submit", rd.data);
  const std::vector<int64_t>& clips = rd.data.test_given;
  if (clips.empty())
    throw std::runtime_error(config.at("data").at("path").get<std::string>() + "/" +
                             data::subset_folder(rd.data.subset) + "/test: no clip to predict");
  const InputShape shape = input_shape_for(mc);
  const int64_t batch_size = std::max<int64_t>(1, config.value("batch_size", int64_t(32)));

  NoGradGuard no_grad;
  std::vector<SubmissionRow> rows;
  rows.reserve(clips.size());
  for (size_t start = 0; start < clips.size(); start += size_t(batch_size)) {
    const std::vector<int64_t> chunk(
        clips.begin() + start, clips.begin() + std::min(clips.size(), start + size_t(batch_size)));
    const data::Batch b = data::make_batch(rd.data, chunk, shape.pad_to, shape.crop_to);
    const Tensor x = Tensor::from_vector(b.x, {b.shape[0], b.shape[1], b.shape[2]}).to(o.device);
    const Tensor lengths = Tensor::from_vector(b.lengths, {b.size()}).to(o.device);
    const Tensor y = net->forward(x, lengths);
    const std::vector<double> v = y.to_vector();
    const int64_t cols = y.size(1);
    for (int64_t i = 0; i < b.size(); ++i)
      rows.push_back(
          {b.ids[i], v[i * cols + columns[0]], v[i * cols + columns[1]], v[i * cols + columns[2]]});
  }
  return rows;
}

std::string submission_csv(const std::vector<SubmissionRow>& rows) {
  std::string text = "id,valence,energy,danceability\n";
  char line[160];
  for (const SubmissionRow& r : rows) {
    if (r.id.find_first_of(",\"\n\r") != std::string::npos)
      throw std::runtime_error("clip id '" + r.id +
                               "' holds a comma, quote or line break; it cannot be a CSV field");
    std::snprintf(line, sizeof line, ",%.9g,%.9g,%.9g\n", r.valence, r.energy, r.danceability);
    text += r.id;
    text += line;
  }
  return text;
}

int64_t write_submission(const SubmissionOptions& o) {
  if (o.csv_path.empty()) throw std::runtime_error("submission: no CSV file given");
  if (fs::exists(o.csv_path) && !o.force)
    throw std::runtime_error(o.csv_path + " exists; --force replaces it");
  const std::vector<SubmissionRow> rows = predict_submission_rows(o);
  data::write_file_atomic(o.csv_path, submission_csv(rows));
  return static_cast<int64_t>(rows.size());
}

}  // namespace melgrad::experiments
