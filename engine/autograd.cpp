// The autograd tape: recording op nodes and running backward (see autograd.h).
#include "engine/autograd.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "engine/backend.h"
#include "engine/registry.h"

namespace melgrad {

static thread_local bool t_grad_enabled = true;

bool grad_enabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

static thread_local LeafGradReadyHook t_leaf_ready_hook;
LeafGradReadyGuard::LeafGradReadyGuard(LeafGradReadyHook hook)
    : previous_(std::move(t_leaf_ready_hook)) {
  t_leaf_ready_hook = std::move(hook);
}
LeafGradReadyGuard::~LeafGradReadyGuard() { t_leaf_ready_hook = std::move(previous_); }

bool needs_grad(const TensorList& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const OpInfo& op, const TensorList& inputs, TensorList& outputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->op = &op;
  node->backward = std::move(backward);
  node->device = outputs.at(0).device();
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn()) {
        e.node = t.grad_fn();
        e.output_nr = t.impl().output_nr;
      } else {
        e.leaf = t.impl_ptr();
      }
    }
    node->inputs.push_back(std::move(e));
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl& o = outputs[i].impl();
    o.requires_grad = true;
    o.grad_fn = node;
    o.output_nr = static_cast<uint32_t>(i);
    node->output_shapes.push_back(o.shape);
    node->output_dtypes.push_back(o.dtype);
  }
}

Tensor record(const OpInfo& op, const TensorList& inputs, const Tensor& output,
              BackwardFn backward) {
  TensorList outs{output};
  record(op, inputs, outs, std::move(backward));
  return outs[0];
}

// A leaf's .grad += g. The first gradient is copied, so .grad never aliases a tensor the
// graph (or another leaf) still holds; later ones are added in place into that copy.
static void accumulate_owned(std::shared_ptr<TensorImpl>& dst, const Tensor& g) {
  if (!dst) {
    Tensor c = Tensor::empty(g.shape(), g.dtype(), g.device());
    backend_for(g.device()).copy(g, c);
    dst = c.impl_ptr();
    return;
  }
  Tensor d(dst);
  backend_for(d.device()).binary(BinaryOp::add, d, g, d);
}

// A pending node-output gradient += g: adopts g, and sums out of place (g may be shared).
static void accumulate_shared(std::shared_ptr<TensorImpl>& dst, const Tensor& g) {
  if (!dst) {
    dst = g.impl_ptr();
    return;
  }
  Tensor d(dst);
  Tensor sum = Tensor::empty(d.shape(), d.dtype(), d.device());
  backend_for(d.device()).binary(BinaryOp::add, d, g, sum);
  dst = sum.impl_ptr();
}

// Nodes reachable from root, in reverse topological order (root first).
static std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> post;
  std::unordered_set<Node*> seen{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      Node* child = n->inputs[next++].node.get();
      if (child && seen.insert(child).second) stack.push_back({child, 0});
    } else {
      post.push_back(n);
      stack.pop_back();
    }
  }
  return {post.rbegin(), post.rend()};
}

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  if (!root.requires_grad())
    throw std::logic_error("backward() on a tensor that does not require grad (" + root.str() +
                           "): no input of its computation had requires_grad set");
  Tensor seed = gradient;
  if (!seed.defined()) {
    if (root.numel() != 1)
      throw std::invalid_argument("backward() without a gradient needs a one-element tensor, got " +
                                  root.str() + "; pass the gradient of the output");
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  } else if (seed.shape() != root.shape()) {
    throw std::invalid_argument("backward(): gradient " + seed.str() + " does not match " +
                                root.str());
  }
  NoGradGuard no_grad;
  if (!root.grad_fn()) {  // a leaf: its gradient is the seed
    accumulate_owned(root.impl().grad, seed);
    return;
  }
  std::unordered_map<Node*, std::vector<std::shared_ptr<TensorImpl>>> pending;
  Node* start = root.grad_fn().get();
  pending[start].resize(start->output_shapes.size());
  accumulate_shared(pending[start][root.impl().output_nr], seed);

  const std::vector<Node*> order = topological_order(start);
  // With a leaf-ready hook: how many edges of the graph still lead into each leaf; a leaf
  // is ready when its count reaches zero (after a node accumulated into it or was skipped).
  std::unordered_map<TensorImpl*, int> leaf_edges_left;
  if (t_leaf_ready_hook)
    for (Node* node : order)
      for (const Edge& e : node->inputs)
        if (e.leaf) ++leaf_edges_left[e.leaf.get()];
  auto leaf_edges_done = [&](const Node* node) {
    if (!t_leaf_ready_hook) return;
    for (const Edge& e : node->inputs)
      if (e.leaf && --leaf_edges_left[e.leaf.get()] == 0) t_leaf_ready_hook(*e.leaf);
  };

  for (Node* node : order) {
    auto it = pending.find(node);
    if (it == pending.end()) {  // reached by no gradient
      leaf_edges_done(node);
      continue;
    }
    if (node->released)
      throw std::logic_error("backward through a graph that was already freed (op '" +
                             node->op->name +
                             "'); call backward(grad, /*retain_graph=*/true) the first time "
                             "to backpropagate through it twice");
    TensorList grads_out(node->output_shapes.size());
    for (size_t i = 0; i < grads_out.size(); ++i)
      grads_out[i] = it->second[i] ? Tensor(it->second[i])
                                   : Tensor::zeros(node->output_shapes[i], node->output_dtypes[i],
                                                   node->device);
    pending.erase(it);
    TensorList grads_in = node->backward(grads_out);
    if (grads_in.size() != node->inputs.size())
      throw std::logic_error("op '" + node->op->name + "' backward returned " +
                             std::to_string(grads_in.size()) + " gradients for " +
                             std::to_string(node->inputs.size()) + " inputs");
    for (size_t i = 0; i < grads_in.size(); ++i) {
      const Edge& e = node->inputs[i];
      const Tensor& g = grads_in[i];
      if (!g.defined() || (!e.node && !e.leaf)) continue;
      if (g.shape() != node->input_shapes[i])
        throw std::logic_error("op '" + node->op->name + "' backward gave a gradient of shape " +
                               shape_str(g.shape()) + " for input " + std::to_string(i) +
                               " of shape " + shape_str(node->input_shapes[i]));
      if (e.node) {
        auto& slots = pending[e.node.get()];
        if (slots.empty()) slots.resize(e.node->output_shapes.size());
        accumulate_shared(slots[e.output_nr], g);
      } else {
        accumulate_owned(e.leaf->grad, g);
      }
    }
    leaf_edges_done(node);
    if (!retain_graph) {
      node->backward = nullptr;  // frees the saved tensors
      node->released = true;
    }
  }
}

}  // namespace melgrad
