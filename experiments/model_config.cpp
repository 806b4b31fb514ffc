// Network descriptions as JSON (see model_config.h).
#include "experiments/model_config.h"

#include <sstream>
#include <stdexcept>

#include "experiments/cli.h"

namespace melgrad::experiments {

nlohmann::json cnn_config_json(const models::CnnConfig& c) {
  nlohmann::json j = {{"type", "cnn"},
                      {"channels", c.channels},
                      {"kernel", c.kernel},
                      {"padding", c.padding},
                      {"pool", c.pool},
                      {"batch_norm", c.batch_norm},
                      {"track_running_stats", c.track_running_stats},
                      {"frames", c.frames},
                      {"bands", c.bands},
                      {"hidden", c.hidden},
                      {"dropout", c.dropout},
                      {"outputs", c.outputs},
                      {"summary", models::describe_cnn(c)}};
  // Written only when set, so that configs of the default recipe stay as they were.
  if (c.relu_before_batch_norm) j["relu_before_batch_norm"] = true;
  if (c.frequency_major) j["frequency_major"] = true;
  return j;
}

static const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key))
    throw std::runtime_error("model_config has no field '" + std::string(key) + "'");
  return j.at(key);
}

models::CnnConfig cnn_config_from_json(const nlohmann::json& j) {
  models::CnnConfig c;
  c.channels = field(j, "channels").get<std::vector<int64_t>>();
  c.kernel = field(j, "kernel").get<int64_t>();
  c.padding = field(j, "padding").get<int64_t>();
  c.pool = field(j, "pool").get<int64_t>();
  c.batch_norm = field(j, "batch_norm").get<bool>();
  c.track_running_stats = field(j, "track_running_stats").get<bool>();
  c.frames = field(j, "frames").get<int64_t>();
  c.bands = field(j, "bands").get<int64_t>();
  c.hidden = field(j, "hidden").get<std::vector<int64_t>>();
  c.dropout = field(j, "dropout").get<double>();
  c.outputs = field(j, "outputs").get<int64_t>();
  c.relu_before_batch_norm = j.value("relu_before_batch_norm", false);
  c.frequency_major = j.value("frequency_major", false);
  return c;
}

nlohmann::json lstm_config_json(const models::LstmConfig& c, int64_t max_frames) {
  nlohmann::json j = {{"type", "lstm"},
                      {"input_size", c.input_size},
                      {"hidden", c.hidden},
                      {"layers", c.layers},
                      {"bidirectional", c.bidirectional},
                      {"dropout", c.dropout},
                      {"outputs", c.outputs},
                      {"max_frames", max_frames},
                      {"summary", models::describe_lstm(c)}};
  if (c.output_dropout > 0) j["output_dropout"] = c.output_dropout;  // only when set (as above)
  return j;
}

models::LstmConfig lstm_config_from_json(const nlohmann::json& j) {
  models::LstmConfig c;
  c.input_size = field(j, "input_size").get<int64_t>();
  c.hidden = field(j, "hidden").get<int64_t>();
  c.layers = field(j, "layers").get<int64_t>();
  c.bidirectional = field(j, "bidirectional").get<bool>();
  c.dropout = field(j, "dropout").get<double>();
  c.outputs = field(j, "outputs").get<int64_t>();
  c.output_dropout = j.value("output_dropout", 0.0);
  return c;
}

std::unique_ptr<models::Network> build_network(const nlohmann::json& mc, uint64_t seed) {
  const std::string type = field(mc, "type").get<std::string>();
  if (type == "cnn") return std::make_unique<models::CnnNet>(cnn_config_from_json(mc), seed);
  if (type == "multitask_cnn")
    return std::make_unique<models::MultitaskCnn>(
        cnn_config_from_json(mc), field(mc, "targets").get<std::vector<std::string>>(), seed);
  if (type == "lstm") return std::make_unique<models::LstmNet>(lstm_config_from_json(mc), seed);
  throw std::runtime_error("model_config: unknown network type '" + type +
                           "' (cnn, multitask_cnn or lstm)");
}

InputShape input_shape_for(const nlohmann::json& mc) {
  const std::string type = field(mc, "type").get<std::string>();
  if (type == "lstm") return {.pad_to = 0, .crop_to = mc.value("max_frames", int64_t(0))};
  const int64_t frames = field(mc, "frames").get<int64_t>();
  return {.pad_to = frames, .crop_to = frames};
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(text)) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || used == 0)
      throw cli::UsageError("option --" + option + " expects comma-separated integers, got '" +
                            text + "'");
    out.push_back(v);
  }
  if (out.empty())
    throw cli::UsageError("option --" + option + " expects comma-separated integers, got '" + text +
                          "'");
  return out;
}

std::vector<double> parse_number_list(const std::string& text, const std::string& option) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    // Decimal numbers only: std::stod would also take "0x1p-1", "inf" and "nan".
    const bool decimal = item.find_first_not_of("0123456789.eE+-") == std::string::npos;
    if (!decimal || used != item.size() || used == 0)
      throw cli::UsageError("option --" + option + " expects comma-separated numbers, got '" +
                            text + "'");
    out.push_back(v);
  }
  if (out.empty())
    throw cli::UsageError("option --" + option + " expects comma-separated numbers, got '" + text +
                          "'");
  return out;
}

}  // namespace melgrad::experiments
