// The op registry (see registry.h).
#include "engine/registry.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "engine/backend.h"

namespace melgrad {

static std::vector<std::unique_ptr<OpInfo>>& table() {
  static std::vector<std::unique_ptr<OpInfo>> t;
  return t;
}

const OpInfo& register_op(OpInfo info) {
  if (find_op(info.name)) throw std::logic_error("op registered twice: " + info.name);
  if (info.differentiable && !info.gradcheck)
    throw std::logic_error("differentiable op '" + info.name +
                           "' registered without gradcheck cases");
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
  if (!first) return;
  const Backend& backend = backend_for(first->device());
  for (const Tensor& t : tensors) {
    if (!t.defined() || backend.supports(op.name, t.dtype())) continue;
    std::string message = "op '" + op.name + "': " + dtype_name(t.dtype()) +
                          " is not supported on " + t.device().str() + " (got " + t.str() +
                          "); the " + backend.name() + " backend has no " + dtype_name(t.dtype()) +
                          " kernel for it";
    for (DType other : {DType::f32, DType::f64})
      if (is_floating(t.dtype()) && backend.supports(op.name, other)) {
        message +=
            std::string(", convert with .to(DType::") + (other == DType::f32 ? "f32" : "f64") + ")";
        break;
      }
    throw std::invalid_argument(message);
  }
}

std::vector<Device> devices_supporting(const std::string& op, DType dtype) {
  std::vector<Device> out;
  for (Device device : {Device::cpu(), Device::cuda()}) {
    if (!has_backend(device.type)) continue;
    if (backend_for(device).supports(op, dtype)) out.push_back(device);
  }
  return out;
}

}  // namespace melgrad
