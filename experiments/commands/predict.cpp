// `melgrad predict --run RUN FILE...`: the genre (with its probabilities) or the
// valence/energy/danceability a finished run's best checkpoint predicts, for clip files in the
// data set's format ((140, T) .npy or .npy.gz) and for audio files (anything else).
// An audio file is decoded and turned into the run's features (datasets/audio/features.h),
// cut into 30-s windows of 1293 frames like the data set's clips (feature_windows), and each
// window is predicted; the whole track's result is the mean of its windows' probabilities
// (genre) or values (regression). Beat-synchronised runs need the beat code compiled in.
// The inputs are standardised with the run's training statistics and batched together; with
// BatchNorm on batch statistics (the study's setting) a prediction depends a little on the
// other inputs of its batch. Output: text lines, --json, and/or --csv FILE.
// `predict --run MULTITASK_RUN --split test --csv FILE [--force]`: instead of files, the
// unlabelled multitask test/ clips of the run's data set, as the course's submission CSV
// (experiments/submission.h; the same as `melgrad submit`).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "datasets/audio/features.h"
#include "datasets/batcher.h"
#include "datasets/file_io.h"
#include "engine/autograd.h"
#include "engine/io/tensor_file.h"
#include "engine/ops/ops.h"
#include "experiments/batch_tensors.h"
#include "experiments/cli.h"
#include "experiments/commands/submit.h"
#include "experiments/experiment.h"
#include "experiments/model_config.h"
#include "experiments/run_config.h"
#include "experiments/seeds.h"
#include "experiments/submission.h"

namespace melgrad {
namespace {

using namespace experiments;
namespace fs = std::filesystem;

constexpr double kFrameSeconds = 512.0 / 22050.0;

bool is_clip_file(const std::string& path) {
  auto ends_with = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  return ends_with(".npy") || ends_with(".npy.gz");
}

// One input of the network: a clip file, or one window of an audio file.
struct Item {
  size_t file = 0;      // index into the positionals
  int64_t window = -1;  // -1: a clip file
  double start_s = 0, end_s = 0;
};

// The audio file's windows as clips [T, F] of the run's feature rows.
void add_audio_windows(const std::string& path, size_t file_index, bool beat,
                       data::SubsetData& clips, std::vector<Item>& items) {
  const data::FeatureRows rows = data::feature_rows(clips.features);
  const audio::Signal signal = audio::load(path);
  const audio::ClipFeatures features = audio::extract_features(signal, {.beat = beat});
  const std::vector<audio::FeatureWindow> windows = audio::feature_windows(features, beat);
  for (size_t w = 0; w < windows.size(); ++w) {
    const audio::FeatureArray& a = windows[w].array;
    data::Clip c;
    c.id = path + "#" + std::to_string(w);
    c.path = path;
    c.frames = a.frames;
    c.values.resize(size_t(a.frames * rows.count()));
    for (int64_t f = 0; f < rows.count(); ++f)
      for (int64_t t = 0; t < a.frames; ++t)
        c.values[size_t(t * rows.count() + f)] = a.values[size_t((rows.begin + f) * a.frames + t)];
    clips.clips.push_back(std::move(c));
    items.push_back({file_index, int64_t(w), double(windows[w].first_frame) * kFrameSeconds,
                     double(windows[w].end_frame) * kFrameSeconds});
  }
}

std::string clock_time(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d", int(seconds) / 60, int(seconds) % 60);
  return buf;
}

// "Rock 0.61  Electronic 0.20  Jazz 0.08" (the top three) or "valence 0.512  energy 0.430".
std::string describe(const Task& task, const std::vector<double>& v) {
  std::string text;
  char buf[96];
  if (task.kind == TaskKind::classification) {
    std::vector<size_t> order(v.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
    for (size_t k = 0; k < std::min<size_t>(3, order.size()); ++k) {
      std::snprintf(buf, sizeof buf, "%s%s %.3f", k ? "  " : "", task.classes[order[k]].c_str(),
                    v[order[k]]);
      text += buf;
    }
  } else {
    for (size_t c = 0; c < v.size(); ++c) {
      std::snprintf(buf, sizeof buf, "%s%s %.3f", c ? "  " : "", task.target_names[c].c_str(),
                    v[c]);
      text += buf;
    }
  }
  return text;
}

nlohmann::json values_json(const Task& task, const std::vector<double>& v) {
  nlohmann::json j;
  if (task.kind == TaskKind::classification) {
    const size_t best = size_t(std::max_element(v.begin(), v.end()) - v.begin());
    j["genre"] = task.classes[best];
    j["probability"] = v[best];
    for (size_t c = 0; c < v.size(); ++c) j["probabilities"][task.classes[c]] = v[c];
  } else {
    for (size_t c = 0; c < v.size(); ++c) j[task.target_names[c]] = v[c];
  }
  return j;
}

// --split test: the submission CSV of the data set's unlabelled multitask test clips.
int predict_test_split(const cli::Args& a) {
  if (a.str("split") != "test")
    throw cli::UsageError(
        "--split: only 'test' (the unlabelled multitask test/ clips) is "
        "possible, got '" +
        a.str("split") + "'");
  if (!a.has("csv")) throw cli::UsageError("--split test writes the submission: give --csv FILE");
  if (!a.positionals().empty())
    throw cli::UsageError("--split test predicts the data set's test/ clips: give no files");
  return write_submission_from_args(a, "");  // the run's own data set
}

int run_predict(const cli::Args& a) {
  apply_threads(a.integer("threads"));
  if (a.has("split")) return predict_test_split(a);
  if (a.positionals().empty()) throw cli::UsageError("give one or more clip or audio files");
  const Device device = check_device(a.str("device"));
  const fs::path run = a.str("run");
  reject_seed_parent(run.string());
  const nlohmann::json config = read_run_config(run.string());  // checked against the network
  const nlohmann::json& mc = config.at("model_config");
  const Task task = task_for_config(config);
  std::unique_ptr<models::Network> net = build_network(mc, config.at("seed").get<uint64_t>());
  io::load_module((run / "best.h5").string(), *net, /*strict=*/true);
  net->to(device);

  const std::vector<std::string>& paths = a.positionals();
  data::SubsetData clips;
  clips.features = data::parse_features(config.at("features").get<std::string>());
  clips.feature_dim = data::feature_rows(clips.features).count();
  std::vector<Item> items;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (fs::is_directory(paths[i]))
      throw data::DataError("'" + paths[i] + "' is a folder, not a file");
    if (is_clip_file(paths[i])) {
      data::ClipEntry e;
      e.id = fs::path(paths[i]).filename().string();
      e.path = paths[i];
      clips.clips.push_back(data::read_clip(e, clips.features));
      items.push_back({i, -1, 0, 0});
    } else {
      add_audio_windows(paths[i], i, config.at("beat").get<bool>(), clips, items);
    }
  }
  if (config.contains("standardisation")) {
    data::BandStats st{config["standardisation"].at("mean").get<std::vector<float>>(),
                       config["standardisation"].at("std").get<std::vector<float>>()};
    data::apply_band_stats(clips, st);
  }
  const InputShape shape = input_shape_for(mc);
  const int64_t batch_size = config.at("batch_size").get<int64_t>();
  net->eval();
  NoGradGuard no_grad;
  std::vector<std::vector<double>> outputs(items.size());
  for (size_t start = 0; start < items.size(); start += size_t(batch_size)) {
    std::vector<int64_t> chunk;
    for (size_t i = start; i < std::min(items.size(), start + size_t(batch_size)); ++i)
      chunk.push_back(int64_t(i));
    data::Batch b = data::make_batch(clips, chunk, shape.pad_to, shape.crop_to);
    Tensor x = Tensor::from_vector(b.x, {b.shape[0], b.shape[1], b.shape[2]}).to(device);
    Tensor y = net->forward(x, Tensor::from_vector(b.lengths, {b.size()}).to(device));
    if (task.kind == TaskKind::classification) y = softmax(y, 1);
    const std::vector<double> v = y.to_vector();
    const int64_t cols = y.size(1);
    for (int64_t i = 0; i < b.size(); ++i)
      outputs[size_t(chunk[size_t(i)])].assign(v.begin() + i * cols, v.begin() + (i + 1) * cols);
  }

  // Per file: its clip's result, or its windows' results and their mean for the track.
  const bool text = !a.flag("json");
  nlohmann::json out = nlohmann::json::array();
  std::string csv = "file,window,start_s,end_s";
  for (size_t c = 0; c < size_t(task.outputs()); ++c)
    csv += "," + (task.kind == TaskKind::classification ? task.classes[c] : task.target_names[c]);
  csv += "\n";
  auto csv_row = [&](const std::string& file, const std::string& window, double s0, double s1,
                     const std::vector<double>& v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ",%s,%.2f,%.2f", window.c_str(), s0, s1);
    csv += "\"" + file + "\"" + buf;
    for (double x : v) {
      std::snprintf(buf, sizeof buf, ",%.6f", x);
      csv += buf;
    }
    csv += "\n";
  };
  for (size_t f = 0; f < paths.size(); ++f) {
    std::vector<size_t> mine;
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].file == f) mine.push_back(i);
    if (items[mine.front()].window < 0) {
      const std::vector<double>& v = outputs[mine.front()];
      nlohmann::json row = values_json(task, v);
      row["file"] = paths[f];
      out.push_back(row);
      if (text) std::printf("%s\t%s\n", paths[f].c_str(), describe(task, v).c_str());
      csv_row(paths[f], "clip", 0, 0, v);
      continue;
    }
    std::vector<double> mean(outputs[mine.front()].size(), 0.0);
    nlohmann::json windows = nlohmann::json::array();
    for (size_t i : mine) {
      const Item& it = items[i];
      for (size_t c = 0; c < mean.size(); ++c) mean[c] += outputs[i][c] / double(mine.size());
      nlohmann::json w = values_json(task, outputs[i]);
      w["window"] = it.window;
      w["start_s"] = it.start_s;
      w["end_s"] = it.end_s;
      windows.push_back(w);
      if (text)
        std::printf("%s\twindow %lld (%s-%s)\t%s\n", paths[f].c_str(),
                    static_cast<long long>(it.window + 1), clock_time(it.start_s).c_str(),
                    clock_time(it.end_s).c_str(), describe(task, outputs[i]).c_str());
      csv_row(paths[f], std::to_string(it.window + 1), it.start_s, it.end_s, outputs[i]);
    }
    nlohmann::json row = values_json(task, mean);
    row["file"] = paths[f];
    row["windows"] = windows;
    out.push_back(row);
    if (text)
      std::printf("%s\ttrack (mean of %zu windows)\t%s\n", paths[f].c_str(), mine.size(),
                  describe(task, mean).c_str());
    csv_row(paths[f], "track", 0, items[mine.back()].end_s, mean);
  }
  if (a.flag("json")) std::printf("%s\n", out.dump(2).c_str());
  if (a.has("csv")) data::write_file_atomic(a.str("csv"), csv);
  return 0;
}

const cli::CommandRegistrar reg({
    .name = "predict",
    .summary =
        "predict genre or valence/energy/danceability for clip or audio files with a finished run",
    .options = {{"run", "RUN_DIR of a finished run", "", false, true},
                {"json", "print a JSON array, one object per file (audio: with its windows)", "",
                 true},
                {"csv",
                 "also write the results as CSV to this file (one row per clip, window and track)",
                 ""},
                {"split",
                 "test: no files; the submission CSV (id,valence,energy,danceability) of the "
                 "unlabelled multitask test/ clips, to --csv",
                 ""},
                {"force", "--split test: replace the CSV file when it exists", "", true},
                {"device", "cpu | cuda", "cpu"},
                {"threads", "CPU threads (0: all cores)", "0"}},
    .positional_help = "FILE.npy|AUDIO...",
    .run = run_predict,
});

}  // namespace
}  // namespace melgrad
