// What a program checks before it trusts a run folder's config.json (evaluate, predict,
// --resume, transfer's source run): every field it uses is present, of the right type and
// range, and consistent with the network it describes (class or target count = the
// network's outputs, input bands = the features' rows, standardisation of one mean and
// one positive std per band, all finite). Errors are one line naming the file and the
// field: "runs/x/config.json: field 'classes' lists 9 classes but model_config.outputs is 10".
// Checkpoints (.h5) are checked where they are read (engine/io/tensor_file.h: finite
// values) and loaded (Module::load_state: names and shapes).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace melgrad::experiments {

// Throws std::runtime_error naming `path` and the field when `config` is not a usable
// config.json.
void validate_run_config(const nlohmann::json& config, const std::string& path);

// Reads RUN_DIR/config.json and validates it.
nlohmann::json read_run_config(const std::string& run_dir);

}  // namespace melgrad::experiments
