// Networks described as JSON (config.json's "model_config") and rebuilt from it, so that
// `evaluate` and `predict` can reconstruct a finished run's network:
//   {"type": "cnn", "channels": [1,4,16,64,256], "kernel": 3, "padding": 1, "pool": 2,
//    "batch_norm": true, "track_running_stats": false, "frames": 40, "bands": 128,
//    "hidden": [128, 64], "dropout": 0.2, "outputs": 10, "parameters": n, "summary": "..."}
//   {"type": "multitask_cnn", ...the cnn fields..., "targets": ["valence", ...]}
//   {"type": "lstm", "input_size": 128, "hidden": 100, "layers": 2, "bidirectional": true,
//    "dropout": 0.2, "outputs": 10, "max_frames": 0, "parameters": n, "summary": "..."}
// Written only when set (the notebook's recipe, `--recipe seed`): cnn "relu_before_batch_norm"
// and "frequency_major" (true), lstm "output_dropout" (> 0); absent means false / 0.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/batch_tensors.h"
#include "models/cnn.h"
#include "models/lstm.h"

namespace melgrad::experiments {

nlohmann::json cnn_config_json(const models::CnnConfig& c);
models::CnnConfig cnn_config_from_json(const nlohmann::json& j);
nlohmann::json lstm_config_json(const models::LstmConfig& c, int64_t max_frames);
models::LstmConfig lstm_config_from_json(const nlohmann::json& j);

// Builds the network a model_config describes, initialised from `seed`.
std::unique_ptr<models::Network> build_network(const nlohmann::json& model_config, uint64_t seed);
// Padding/cropping of batches for it: CNN pad and crop to "frames"; LSTM crop to "max_frames".
InputShape input_shape_for(const nlohmann::json& model_config);

// "1,4,16,64,256" -> {1, 4, 16, 64, 256}; errors name the option.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);
std::vector<double> parse_number_list(const std::string& text, const std::string& option);
std::vector<std::string> split_list(const std::string& text);

}  // namespace melgrad::experiments
