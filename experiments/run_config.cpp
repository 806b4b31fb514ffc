// Reading and checking a run's config.json (see run_config.h).
#include "experiments/run_config.h"

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "datasets/patreco3.h"
#include "experiments/run_folder.h"

namespace melgrad::experiments {
namespace {

using json = nlohmann::json;

// Field access that names the file and the dotted field path in every error.
class ConfigReader {
 public:
  explicit ConfigReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw std::runtime_error(path_ + ": field '" + field + "' " + problem);
  }
  const json& at(const json& object, const std::string& parent, const std::string& key) const {
    const std::string name = parent.empty() ? key : parent + "." + key;
    if (!object.is_object() || !object.contains(key)) fail(name, "is missing");
    return object.at(key);
  }
  std::string text(const json& object, const std::string& parent, const std::string& key,
                   std::initializer_list<const char*> allowed = {}) const {
    const json& v = at(object, parent, key);
    const std::string name = parent.empty() ? key : parent + "." + key;
    if (!v.is_string()) fail(name, "must be a string, found " + v.dump());
    const std::string s = v.get<std::string>();
    if (allowed.size() == 0) return s;
    std::string choices;
    for (const char* a : allowed) {
      if (s == a) return s;
      choices += (choices.empty() ? "" : ", ") + std::string(a);
    }
    fail(name, "must be one of " + choices + ", found '" + s + "'");
  }
  int64_t integer(const json& object, const std::string& parent, const std::string& key,
                  int64_t min) const {
    const json& v = at(object, parent, key);
    const std::string name = parent.empty() ? key : parent + "." + key;
    if (!v.is_number_integer()) fail(name, "must be an integer, found " + v.dump());
    const int64_t x = v.get<int64_t>();
    if (x < min) fail(name, "must be >= " + std::to_string(min) + ", found " + std::to_string(x));
    return x;
  }
  double number(const json& object, const std::string& parent, const std::string& key, double min,
                bool min_inclusive) const {
    const json& v = at(object, parent, key);
    const std::string name = parent.empty() ? key : parent + "." + key;
    if (!v.is_number()) fail(name, "must be a number, found " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < min || (!min_inclusive && x == min))
      fail(name, "must be a finite number " + std::string(min_inclusive ? ">= " : "> ") +
                     json(min).dump() + ", found " + v.dump());
    return x;
  }
  bool boolean(const json& object, const std::string& parent, const std::string& key) const {
    const json& v = at(object, parent, key);
    if (!v.is_boolean())
      fail(parent.empty() ? key : parent + "." + key, "must be true or false, found " + v.dump());
    return v.get<bool>();
  }
  std::vector<std::string> texts(const json& object, const std::string& key) const {
    const json& v = at(object, "", key);
    if (!v.is_array() || v.empty())
      fail(key, "must be a non-empty list of names, found " + v.dump());
    std::vector<std::string> out;
    for (const json& e : v) {
      if (!e.is_string()) fail(key, "must list names (strings), found " + e.dump());
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<int64_t> integers(const json& object, const std::string& parent,
                                const std::string& key) const {
    const json& v = at(object, parent, key);
    const std::string name = parent + "." + key;
    if (!v.is_array() || v.empty())
      fail(name, "must be a non-empty list of integers, found " + v.dump());
    std::vector<int64_t> out;
    for (const json& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 1)
        fail(name, "must list positive integers, found " + e.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  }

 private:
  std::string path_;
};

void check_model_config(const ConfigReader& r, const json& mc, int64_t bands, int64_t outputs,
                        const std::string& outputs_field) {
  const std::string type = r.text(mc, "model_config", "type", {"cnn", "multitask_cnn", "lstm"});
  const int64_t net_outputs = r.integer(mc, "model_config", "outputs", 1);
  if (net_outputs != outputs)
    r.fail(outputs_field, "lists " + std::to_string(outputs) +
                              " names but model_config.outputs is " + std::to_string(net_outputs) +
                              " (the network's outputs)");
  const double dropout = r.number(mc, "model_config", "dropout", 0, true);
  if (dropout >= 1) r.fail("model_config.dropout", "must be < 1, found " + json(dropout).dump());
  if (type == "lstm") {
    const int64_t input = r.integer(mc, "model_config", "input_size", 1);
    if (input != bands)
      r.fail("model_config.input_size", "is " + std::to_string(input) + " but the features have " +
                                            std::to_string(bands) + " bands");
    r.integer(mc, "model_config", "hidden", 1);
    r.integer(mc, "model_config", "layers", 1);
    r.boolean(mc, "model_config", "bidirectional");
    r.integer(mc, "model_config", "max_frames", 0);
    return;
  }
  const std::vector<int64_t> channels = r.integers(mc, "model_config", "channels");
  if (channels.front() != 1 || channels.size() < 2)
    r.fail("model_config.channels",
           "must start with 1 input channel and name at least one conv layer");
  const int64_t cnn_bands = r.integer(mc, "model_config", "bands", 1);
  if (cnn_bands != bands)
    r.fail("model_config.bands", "is " + std::to_string(cnn_bands) + " but the features have " +
                                     std::to_string(bands) + " bands");
  r.integer(mc, "model_config", "frames", 1);
  r.integer(mc, "model_config", "kernel", 1);
  r.integer(mc, "model_config", "padding", 0);
  r.integer(mc, "model_config", "pool", 1);
  r.boolean(mc, "model_config", "batch_norm");
  r.boolean(mc, "model_config", "track_running_stats");
  r.integers(mc, "model_config", "hidden");
}

void check_standardisation(const ConfigReader& r, const json& config, int64_t bands) {
  if (!config.contains("standardisation")) return;
  const json& st = r.at(config, "", "standardisation");
  for (const char* key : {"mean", "std"}) {
    const json& v = r.at(st, "standardisation", key);
    const std::string name = std::string("standardisation.") + key;
    if (!v.is_array() || int64_t(v.size()) != bands)
      r.fail(name, "must list one number per band (" + std::to_string(bands) + "), found " +
                       (v.is_array() ? std::to_string(v.size()) + " entries" : v.dump()));
    for (size_t i = 0; i < v.size(); ++i) {
      const bool finite = v[i].is_number() && std::isfinite(v[i].get<double>());
      if (!finite || (key == std::string("std") && !(v[i].get<double>() > 0)))
        r.fail(name, "entry " + std::to_string(i) + " must be a finite number" +
                         (key == std::string("std") ? " > 0" : "") + ", found " + v[i].dump());
    }
  }
}

}  // namespace

void validate_run_config(const json& config, const std::string& path) {
  const ConfigReader r(path);
  if (!config.is_object()) throw std::runtime_error(path + ": not a JSON object");
  const std::string command =
      r.text(config, "", "command", {"genre", "regress", "transfer", "multitask"});
  r.text(config, "", "model", {"cnn", "lstm"});
  const std::string features = r.text(config, "", "features", {"mel", "chroma", "fused"});
  const int64_t bands = data::feature_rows(data::parse_features(features)).count();
  r.boolean(config, "", "beat");
  r.integer(config, "", "epochs", 1);
  r.integer(config, "", "batch_size", 1);
  r.integer(config, "", "patience", 0);
  r.number(config, "", "lr", 0, false);
  r.number(config, "", "weight_decay", 0, true);
  r.integer(config, "", "seed", 0);
  if (config.contains("split_seed")) r.integer(config, "", "split_seed", 0);
  if (config.contains("stream_chunk_clips")) r.integer(config, "", "stream_chunk_clips", 1);
  r.text(r.at(config, "", "data"), "data", "path");
  const json& mc = r.at(config, "", "model_config");
  if (command == "genre") {
    check_model_config(r, mc, bands, int64_t(r.texts(config, "classes").size()), "classes");
  } else {
    const std::vector<std::string> targets = r.texts(config, "targets");
    for (const std::string& t : targets)
      if (t != "valence" && t != "energy" && t != "danceability")
        r.fail("targets", "must list valence, energy or danceability, found '" + t + "'");
    check_model_config(r, mc, bands, int64_t(targets.size()), "targets");
    if (config.contains("target_weights")) {
      const json& w = config["target_weights"];
      if (!w.is_array() || w.size() != targets.size())
        r.fail("target_weights", "must list one weight per target, found " + w.dump());
      for (const json& x : w)
        if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() < 0)
          r.fail("target_weights", "must list finite weights >= 0, found " + x.dump());
    }
    if (config.contains("loss")) r.text(config, "", "loss", {"mse", "l1", "smooth_l1"});
  }
  check_standardisation(r, config, bands);
}

nlohmann::json read_run_config(const std::string& run_dir) {
  const std::string path = (std::filesystem::path(run_dir) / "config.json").string();
  nlohmann::json config = read_json_file(path);
  validate_run_config(config, path);
  return config;
}

}  // namespace melgrad::experiments
