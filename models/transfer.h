// Transfer learning (REFERENCE §2): a regression CNN starts from a genre CNN's weights.
// Everything of the genre CNN is loaded (the conv trunk features.* and the first FC layer
// classifier.0.*) except the last two FC layers (128 -> 64 -> outputs), which keep their
// fresh initialisation; optionally the trunk is frozen (its parameters stop requiring
// gradients, so optimisers built from trainable_parameters() leave them alone).
#pragma once

#include <string>
#include <vector>

#include "models/cnn.h"

namespace melgrad::models {

struct TransferReport {
  std::vector<std::string> loaded;         // tensor names copied from the source
  std::vector<std::string> reinitialised;  // parameters left at their fresh values
  std::vector<std::string> frozen;         // parameters that no longer require gradients
};

// `source_state`: tensors by name (e.g. io::load_tensor_file(best.h5).tensors) of a CnnNet
// with the same trunk and first FC layer. Throws naming the tensor whose shape differs
// (e.g. a genre CNN built for another number of frames) or that is missing.
TransferReport transfer_from_genre_cnn(CnnNet& target,
                                       const std::map<std::string, Tensor>& source_state,
                                       bool freeze_trunk);

// Parameters that require gradients (what an optimiser should update).
std::vector<Tensor> trainable_parameters(const nn::Module& module);

}  // namespace melgrad::models
