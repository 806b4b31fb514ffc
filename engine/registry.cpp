// The op registry (see registry.h).
#include "engine/registry.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace melgrad {

static std::vector<std::unique_ptr<OpInfo>>& table() {
  static std::vector<std::unique_ptr<OpInfo>> t;
  return t;
}

bool OpInfo::supports(DeviceType d) const {
  return std::find(devices.begin(), devices.end(), d) != devices.end();
}

const OpInfo& register_op(OpInfo info) {
  if (find_op(info.name)) throw std::logic_error("op registered twice: " + info.name);
  if (info.differentiable && !info.gradcheck)
    throw std::logic_error("differentiable op '" + info.name + "' registered without gradcheck cases");
  table().push_back(std::make_unique<OpInfo>(std::move(info)));
  return *table().back();
}

const OpInfo* find_op(const std::string& name) {
  for (const auto& op : table())
    if (op->name == name) return op.get();
  return nullptr;
}

std::vector<const OpInfo*> all_ops() {
  std::vector<const OpInfo*> out;
  for (const auto& op : table()) out.push_back(op.get());
  std::sort(out.begin(), out.end(), [](auto a, auto b) { return a->name < b->name; });
  return out;
}

void check_device(const OpInfo& op, const TensorList& tensors) {
  const Tensor* first = nullptr;
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    if (!first) {
      first = &t;
      continue;
    }
    if (!(t.device() == first->device()))
      throw std::invalid_argument("op '" + op.name + "': tensors on different devices (" +
                                  first->device().str() + " and " + t.device().str() + ")");
  }
  if (first && !op.supports(first->device().type))
    throw std::runtime_error("op '" + op.name + "' is not implemented for device " +
                             first->device().str());
  if (first && first->device().is_cuda())
    for (const Tensor& t : tensors)
      if (t.defined() && t.dtype() == DType::f64)
        throw std::invalid_argument("op '" + op.name + "': float64 is not supported on " +
                                    t.device().str() + " (got " + t.str() +
                                    "); CUDA kernels compute in float32, convert with "
                                    ".to(DType::f32)");
}

}  // namespace melgrad
