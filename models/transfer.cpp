// Transfer from a genre CNN into a regression CNN (see transfer.h).
#include "models/transfer.h"

#include <map>
#include <stdexcept>

#include "engine/shape.h"

namespace melgrad::models {

static bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

TransferReport transfer_from_genre_cnn(CnnNet& target,
                                       const std::map<std::string, Tensor>& source_state,
                                       bool freeze_trunk) {
  // The classifier's Linear layers sit at indices 0, 3, 6 (Linear, ReLU, Dropout per hidden
  // layer): the last two are replaced.
  const size_t linears = target.config().hidden.size() + 1;
  if (linears < 2)
    throw std::invalid_argument("transfer: the target CNN needs at least two FC layers");
  std::vector<std::string> replaced;
  for (size_t k = linears - 2; k < linears; ++k)
    replaced.push_back("classifier." + std::to_string(3 * k) + ".");

  TransferReport report;
  std::map<std::string, Tensor> keep;
  for (const auto& [name, t] : target.state()) {
    bool fresh = false;
    for (const std::string& r : replaced) fresh = fresh || starts_with(name, r);
    if (fresh) {
      report.reinitialised.push_back(name);
      continue;
    }
    auto it = source_state.find(name);
    if (it == source_state.end())
      throw std::invalid_argument("transfer: the genre CNN's state has no tensor '" + name +
                                  "' (is it a CNN with the same channels and BatchNorm setting?)");
    if (it->second.shape() != t.shape())
      throw std::invalid_argument(
          "transfer: tensor '" + name + "' is " + shape_str(it->second.shape()) +
          " in the genre CNN but the regression CNN expects " + shape_str(t.shape()) +
          " (both must use the same channels, pooling, frames and bands)");
    keep.emplace(name, it->second);
    report.loaded.push_back(name);
  }
  target.load_state(keep, /*strict=*/false);
  if (freeze_trunk)
    for (auto [name, p] : target.named_parameters())
      if (starts_with(name, "features.")) {
        p.requires_grad_(false);
        report.frozen.push_back(name);
      }
  return report;
}

std::vector<Tensor> trainable_parameters(const nn::Module& module) {
  std::vector<Tensor> out;
  for (const Tensor& p : module.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

}  // namespace melgrad::models
