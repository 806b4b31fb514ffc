// Module, Layer and Sequential (see module.h).
#include "engine/nn/module.h"

#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/nn/layers.h"

namespace melgrad::nn {

void Module::register_parameter(const std::string& name, Tensor* slot) {
  if (!slot->defined()) throw std::logic_error("register_parameter: '" + name + "' is undefined");
  if (slot->is_leaf() && !slot->requires_grad()) slot->requires_grad_();
  params_.emplace_back(name, slot);
}

void Module::register_buffer(const std::string& name, Tensor* slot) {
  buffers_.emplace_back(name, slot);
}

void Module::collect(const std::string& prefix, bool params, bool buffers, Slots& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_)
      if (t->defined()) out.emplace_back(prefix + n, t);
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, buffers, out);
}

static NamedTensors values(const std::vector<std::pair<std::string, Tensor*>>& slots) {
  NamedTensors out;
  for (const auto& [n, t] : slots) out.emplace_back(n, *t);
  return out;
}

NamedTensors Module::named_parameters() const {
  Slots s;
  collect("", true, false, s);
  return values(s);
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  Slots s;
  collect("", false, true, s);
  return values(s);
}

NamedTensors Module::state() const {
  Slots s;
  collect("", true, false, s);
  collect("", false, true, s);
  return values(s);
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::load_state(const std::map<std::string, Tensor>& state, bool strict) {
  Slots mine;
  collect("", true, true, mine);
  std::ostringstream problems;
  std::map<std::string, bool> used;
  for (const auto& [name, slot] : mine) {
    auto it = state.find(name);
    if (it == state.end()) {
      if (strict) problems << "\n  missing: " << name << " " << shape_str(slot->shape());
      continue;
    }
    used[name] = true;
    if (it->second.shape() != slot->shape()) {
      problems << "\n  shape mismatch: " << name << " expects " << shape_str(slot->shape())
               << ", got " << shape_str(it->second.shape());
      continue;
    }
  }
  if (strict)
    for (const auto& [name, t] : state)
      if (!used.count(name)) problems << "\n  unexpected: " << name << " " << shape_str(t.shape());
  if (!problems.str().empty()) throw std::invalid_argument("load_state:" + problems.str());
  NoGradGuard no_grad;
  for (const auto& [name, slot] : mine)
    if (auto it = state.find(name); it != state.end()) slot->copy_(it->second);
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& [n, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [n, t] : params_) t->zero_grad();
  for (auto& [n, child] : children_) child->zero_grad();
}

template <class Convert>
static void convert_all(const std::vector<std::pair<std::string, Tensor*>>& params,
                        const std::vector<std::pair<std::string, Tensor*>>& buffers,
                        Convert convert) {
  NoGradGuard no_grad;
  for (auto& [n, t] : params) {
    const bool trainable = t->requires_grad();  // a frozen parameter stays frozen
    *t = convert(*t).detach();
    t->requires_grad_(trainable);
  }
  for (auto& [n, t] : buffers)
    if (t->defined()) *t = convert(*t).detach();
}

void Module::to(Device device) {
  convert_all(params_, buffers_, [&](const Tensor& t) { return t.to(device); });
  for (auto& [n, child] : children_) child->to(device);
}

void Module::to(DType dtype) {
  Slots floating;
  for (auto& [n, t] : buffers_)
    if (t->defined() && is_floating(t->dtype())) floating.emplace_back(n, t);
  convert_all(params_, floating, [&](const Tensor& t) { return t.to(dtype); });
  for (auto& [n, child] : children_) child->to(dtype);
}

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers) {
  for (auto& l : layers) push_back(std::move(l));
}

void Sequential::push_back(std::shared_ptr<Layer> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool relu_next =
        i + 1 < layers_.size() && dynamic_cast<const ReLU*>(layers_[i + 1].get()) != nullptr;
    if (relu_next) {
      if (Tensor fused = layers_[i]->forward_relu(h); fused.defined()) {
        h = fused;
        ++i;  // the ReLU ran in layer i's op
        continue;
      }
    }
    h = layers_[i]->forward(h);
  }
  return h;
}

}  // namespace melgrad::nn
