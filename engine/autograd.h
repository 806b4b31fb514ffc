// Define-by-run reverse-mode autodiff.
//
// Every differentiable op computes its outputs, then calls record() with the inputs, the
// outputs and a backward function written right beside the forward. record() links the
// outputs to a Node; Tensor::backward() walks the Nodes in reverse topological order,
// summing gradients where a value was used more than once, and accumulates into the
// leaves' .grad. After a backward without retain_graph the Nodes drop their saved
// tensors; a second backward through them is an error.
//
// Rule for backward closures: capture tensors with .detach() (inputs and outputs alike).
// Capturing an op's own output with its history would make a reference cycle.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace melgrad {

struct OpInfo;

using TensorList = std::vector<Tensor>;
// grads of the outputs (undefined ones are filled with zeros) -> grads of the inputs
// (one per input, undefined where the input needs none).
using BackwardFn = std::function<TensorList(const TensorList& grad_outputs)>;

struct Edge {
  std::shared_ptr<Node> node;        // the producer of the input, or
  std::shared_ptr<TensorImpl> leaf;  // the leaf to accumulate into; both null: no grad
  uint32_t output_nr = 0;
};

struct Node {
  const OpInfo* op = nullptr;
  std::vector<Edge> inputs;
  std::vector<Shape> input_shapes;
  std::vector<Shape> output_shapes;
  std::vector<DType> output_dtypes;
  Device device;
  BackwardFn backward;
  bool released = false;
};

bool grad_enabled();

// Disables recording for its lifetime (inference, optimiser steps, backward itself).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and some input requires grad.
bool needs_grad(const TensorList& inputs);

// Links `outputs` to a new Node of `op` when needs_grad(inputs); returns outputs[0] for
// the common single-output case.
Tensor record(const OpInfo& op, const TensorList& inputs, const Tensor& output,
              BackwardFn backward);
void record(const OpInfo& op, const TensorList& inputs, TensorList& outputs, BackwardFn backward);

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

// Called during a backward once per leaf, as soon as the leaf's .grad holds every gradient
// this backward gives it (the last edge into it is done), so data-parallel training can
// start reducing a bucket of gradients while the backward goes on (experiments/
// distributed.h). Installed for the guard's lifetime on the calling thread (as
// NoGradGuard); the backward does no extra work when none is installed.
using LeafGradReadyHook = std::function<void(TensorImpl& leaf)>;
class LeafGradReadyGuard {
 public:
  explicit LeafGradReadyGuard(LeafGradReadyHook hook);
  ~LeafGradReadyGuard();
  LeafGradReadyGuard(const LeafGradReadyGuard&) = delete;
  LeafGradReadyGuard& operator=(const LeafGradReadyGuard&) = delete;

 private:
  LeafGradReadyHook previous_;
};

}  // namespace melgrad
