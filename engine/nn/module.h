// Module: a node of a network with named parameters, buffers and child modules, named as
// PyTorch names them ("features.0.weight", "lstm.weight_hh_l0_reverse"), so state moves
// between melgrad and PyTorch by name. Layer: a Module with a one-tensor forward.
//
//   struct Net : nn::Layer {
//     std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(4, 2,
//     gen)); Tensor forward(const Tensor& x) override { return fc->forward(x); }
//   };
//
// Parameters and buffers are registered by address (members of the module), so loading a
// state or moving to a device updates the members themselves.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace melgrad::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;  // recursive, registration order
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;  // e.g. BatchNorm running statistics
  NamedTensors state() const;          // parameters then buffers, by name
  int64_t parameter_count() const;

  // Copies values by name. strict: every name must be present on both sides with equal
  // shapes; otherwise an error lists what is missing, unexpected or mis-shaped.
  void load_state(const std::map<std::string, Tensor>& state, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Moves every parameter and buffer (parameters stay leaves; a frozen one stays frozen).
  void to(Device device);
  void to(DType dtype);

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

 protected:
  // Registers `*slot` (a member) under `name`; parameters get requires_grad.
  void register_parameter(const std::string& name, Tensor* slot);
  void register_buffer(const std::string& name, Tensor* slot);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  // Called by train(); override to propagate to state that is not a child module.
  virtual void on_train(bool) {}

 private:
  using Slots = std::vector<std::pair<std::string, Tensor*>>;
  void collect(const std::string& prefix, bool params, bool buffers, Slots& out) const;
  Slots params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // relu(forward(x)) as one fused op, or an undefined Tensor (nothing computed) when the
  // layer has none. Conv2d has one (conv2d_relu); Sequential asks for it.
  virtual Tensor forward_relu(const Tensor& /*x*/) { return {}; }
};

// Children named "0", "1", ... applied in order. A child followed by a ReLU runs both as
// its forward_relu when it has one (Conv2d, ReLU -> conv2d_relu): the same values, one op
// and one pass over the activations fewer; the ReLU keeps its index, so names do not move.
class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
  void push_back(std::shared_ptr<Layer> layer);
  size_t size() const { return layers_.size(); }
  std::shared_ptr<Layer> operator[](size_t i) const { return layers_.at(i); }
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace melgrad::nn
