// Reductions: sum, mean, max, min over any dims (keepdim or not), argmax, and sum_to (the
// backward of broadcasting). Gradients of max/min are shared equally among ties.
#include <algorithm>
#include <stdexcept>

#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

// Sorted, wrapped, unique dims; empty = all.
std::vector<int64_t> normalize_dims(const OpInfo& op, const Tensor& x, std::vector<int64_t> dims) {
  if (dims.empty())
    for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  for (int64_t& d : dims) d = wrap_dim(d, x.dim(), op.name.c_str());
  std::sort(dims.begin(), dims.end());
  if (std::adjacent_find(dims.begin(), dims.end()) != dims.end())
    throw std::invalid_argument(op.name + ": a dim appears twice");
  return dims;
}

Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out = s;
  for (int64_t d : dims) out[d] = 1;
  return out;
}

Shape squeezed_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out.push_back(s[d]);
  return out;
}

Tensor reduce_forward(const OpInfo& op, ReduceOp kind, const Tensor& x,
                      const std::vector<int64_t>& dims, bool keepdim) {
  check_device(op, {x});
  check_floating(op, x);
  if (x.numel() == 0) throw std::invalid_argument(op.name + ": empty tensor " + x.str());
  Shape ks = keepdim_shape(x.shape(), dims);
  Tensor out = Tensor::empty(ks, x.dtype(), x.device());
  backend_for(x.device()).reduce(kind, x, out);
  if (keepdim) return out;
  Shape ss = squeezed_shape(x.shape(), dims);
  return out.as_strided(ss, contiguous_strides(ss), 0);
}

std::function<GradCases(Generator&)> reduce_cases(Tensor (*f)(const Tensor&, std::vector<int64_t>,
                                                              bool)) {
  return [f](Generator& g) {
    return GradCases{
        {"all", {gc_input({3, 4}, g)}, [f](const TensorList& in) { return f(in[0], {}, false); }},
        {"dim 1",
         {gc_input({3, 4, 2}, g)},
         [f](const TensorList& in) { return f(in[0], {1}, false); }},
        {"dims 0,2 keepdim",
         {gc_input({3, 4, 2}, g)},
         [f](const TensorList& in) {
           return f(in[0], {0, 2}, true);
         }},
        {"last dim of a transposed view", {gc_input({4, 3}, g)}, [f](const TensorList& in) {
           return f(transpose(in[0], 0, 1), {-1}, false);
         }}};
  };
}

}  // namespace

static const OpInfo& kSum =
    register_op({.name = "sum", .family = "reduce", .gradcheck = reduce_cases(sum)});
Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalize_dims(kSum, x, std::move(dims));
  Tensor out = reduce_forward(kSum, ReduceOp::sum, x, dims, keepdim);
  return record(kSum, {x}, out,
                [s = x.shape(), ks = keepdim_shape(x.shape(), dims)](const TensorList& g) {
                  return TensorList{expand(reshape(g[0], ks), s)};
                });
}

// mean is sum * (1 / count), so it has no registry entry of its own (the registry's
// gradient checks of sum cover it); this OpInfo only names it in its argument errors.
static const OpInfo kMeanArgs{.name = "mean", .family = "reduce", .gradcheck = {}};
Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalize_dims(kMeanArgs, x, std::move(dims));
  check_device(kMeanArgs, {x});
  check_floating(kMeanArgs, x);
  if (x.numel() == 0) throw std::invalid_argument("mean: empty tensor " + x.str());
  int64_t count = 1;
  for (int64_t d : dims) count *= x.size(d);
  return sum(x, dims, keepdim) * (1.0 / static_cast<double>(count));
}

// max/min: the gradient goes to every element equal to the result, split among ties.
static Tensor extreme(const OpInfo& op, ReduceOp kind, const Tensor& x, std::vector<int64_t> dims,
                      bool keepdim) {
  dims = normalize_dims(op, x, std::move(dims));
  Tensor out = reduce_forward(op, kind, x, dims, keepdim);
  Shape ks = keepdim_shape(x.shape(), dims);
  return record(op, {x}, out, [x = x.detach(), out = out.detach(), ks, dims](const TensorList& g) {
    Tensor hit = eq(x, expand(reshape(out, ks), x.shape()));
    Tensor share = reshape(g[0], ks) / sum(hit, dims, true);
    return TensorList{hit * share};
  });
}

static const OpInfo& kMax =
    register_op({.name = "max", .family = "reduce", .gradcheck = reduce_cases(max)});
Tensor max(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return extreme(kMax, ReduceOp::max, x, std::move(dims), keepdim);
}

static const OpInfo& kMin =
    register_op({.name = "min", .family = "reduce", .gradcheck = reduce_cases(min)});
Tensor min(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return extreme(kMin, ReduceOp::min, x, std::move(dims), keepdim);
}

static const OpInfo& kArgmax =
    register_op({.name = "argmax", .family = "reduce", .gradcheck = {}, .differentiable = false});
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  check_device(kArgmax, {x});
  check_floating(kArgmax, x);
  dim = wrap_dim(dim, x.dim(), "argmax");
  if (x.size(dim) == 0) throw std::invalid_argument("argmax: empty dim in " + x.str());
  Shape ks = keepdim_shape(x.shape(), {dim});
  Tensor out = Tensor::empty(ks, DType::i64, x.device());
  backend_for(x.device()).argmax(x, dim, out);
  if (keepdim) return out;
  Shape ss = squeezed_shape(x.shape(), {dim});
  return out.as_strided(ss, contiguous_strides(ss), 0);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0)
    throw std::invalid_argument("sum_to: cannot reduce " + shape_str(g.shape()) + " to " +
                                shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.size(d) != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? g : sum(g, dims, true);
  return reshape(s, shape);
}

}  // namespace melgrad
