// Named tensors in HDF5 files: checkpoints, module states and weights exported from
// PyTorch (scripts/export_torch_state.py writes a state_dict in this layout). One dataset
// per tensor at the file's root, named by its PyTorch-style key ("features.0.weight"),
// float32/float64/int64; string attributes on the root carry metadata.
//
// Writes are atomic: the file is written beside the target as NAME.tmp-PID, flushed to
// disk, then renamed over NAME, so an interrupted save never leaves a torn file and never
// destroys the previous one.
#pragma once

#include <map>
#include <string>

#include "engine/nn/module.h"

namespace melgrad::io {

struct TensorFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> attributes;
};

void save_tensor_file(const std::string& path, const nn::NamedTensors& tensors,
                      const std::map<std::string, std::string>& attributes = {});
// Throws naming the file when it is missing, not HDF5, or holds an unsupported dataset or a
// NaN/Inf value (naming the tensor).
TensorFile load_tensor_file(const std::string& path);

// A module's parameters and buffers (and `attributes`) to / from a file.
void save_module(const std::string& path, const nn::Module& module,
                 const std::map<std::string, std::string>& attributes = {});
// Returns the file's attributes; `strict` as in Module::load_state.
std::map<std::string, std::string> load_module(const std::string& path, nn::Module& module,
                                               bool strict = true);

}  // namespace melgrad::io
