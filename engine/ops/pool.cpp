// max_pool2d: x [N, C, H, W] (or [C, H, W]) -> y [N, C, Ho, Wo] with PyTorch's MaxPool2d
// output size (no dilation):
//   Ho = floor((H + 2 ph - kh) / sh) + 1            (floor mode: trailing rows are dropped)
//   Ho = ceil((H + 2 ph - kh) / sh) + 1, minus one if that last window would start at or
//        beyond H + ph                                (ceil mode)
// The forward keeps the argmax of every window (int64 index h * W + w in its plane); the
// backward scatters the output gradient to those positions.
#include <stdexcept>
#include <string>

#include "engine/ops/cnn.h"
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

std::string pair_str(const std::array<int64_t, 2>& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

Pool2dShape pool_shape(const OpInfo& op, const Tensor& x, Pool2dOptions opt, PoolKind kind) {
  check_floating(op, x);
  const std::string name = op.name;
  if (x.dim() != 3 && x.dim() != 4)
    throw std::invalid_argument(name + ": expected input [N, C, H, W] or [C, H, W], got " +
                                x.str());
  for (int d = 0; d < 2; ++d)
    if (opt.stride[d] == 0) opt.stride[d] = opt.kernel[d];
  if (opt.kernel[0] < 1 || opt.kernel[1] < 1 || opt.stride[0] < 1 || opt.stride[1] < 1 ||
      opt.padding[0] < 0 || opt.padding[1] < 0)
    throw std::invalid_argument(name + ": kernel " + pair_str(opt.kernel) + " and stride " +
                                pair_str(opt.stride) + " must be >= 1, padding " +
                                pair_str(opt.padding) + " >= 0");
  if (2 * opt.padding[0] > opt.kernel[0] || 2 * opt.padding[1] > opt.kernel[1])
    throw std::invalid_argument(name + ": padding " + pair_str(opt.padding) +
                                " must be at most half of the kernel " + pair_str(opt.kernel));
  Pool2dShape g;
  g.N = x.dim() == 4 ? x.size(0) : 1, g.C = x.size(-3), g.H = x.size(-2), g.W = x.size(-1);
  g.kh = opt.kernel[0], g.kw = opt.kernel[1];
  g.stride_h = opt.stride[0], g.stride_w = opt.stride[1];
  g.pad_h = opt.padding[0], g.pad_w = opt.padding[1];
  g.ceil_mode = opt.ceil_mode;
  g.kind = kind;
  if (g.out_h() < 1 || g.out_w() < 1)
    throw std::invalid_argument(name + ": input " + x.str() + " is too small for kernel " +
                                pair_str(opt.kernel) + " with padding " + pair_str(opt.padding) +
                                " (output " + std::to_string(g.out_h()) + "x" +
                                std::to_string(g.out_w()) + ")");
  return g;
}

using PoolOp = Tensor (*)(const Tensor&, Pool2dOptions);

GradCheckCase pool_case(PoolOp op, std::string label, Generator& g, const Shape& xs,
                        Pool2dOptions opt) {
  return {std::move(label), {gc_input(xs, g)}, [op, opt](const TensorList& t) {
            return op(t[0], opt);
          }};
}

}  // namespace

static const OpInfo& kMaxPool2d = register_op(
    {.name = "max_pool2d", .family = "cnn", .gradcheck = [](Generator& g) {
       return GradCases{
           pool_case(max_pool2d, "pool 2, odd width dropped", g, {2, 3, 6, 7}, {.kernel = {2, 2}}),
           pool_case(max_pool2d, "pool 3, floor mode drops rows", g, {1, 2, 8, 7},
                     {.kernel = {3, 3}}),
           pool_case(max_pool2d, "3x3 stride 2 pad 1 ceil mode", g, {2, 2, 7, 6},
                     {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}),
           pool_case(max_pool2d, "overlapping 3x2 stride 1", g, {1, 2, 5, 5},
                     {.kernel = {3, 2}, .stride = {1, 1}}),
           pool_case(max_pool2d, "3-D input", g, {2, 5, 5}, {.kernel = {2, 2}, .stride = {1, 2}})};
     }});

namespace {

// The op of every PoolKind: y from the backend's pool2d_forward and, for the kinds that keep
// indices, the argmax its backward reads.
Tensor pool2d(const OpInfo& op, const Tensor& x, const Pool2dOptions& opt, PoolKind kind) {
  check_device(op, {x});
  const Pool2dShape s = pool_shape(op, x, opt, kind);
  Tensor xc;
  {
    NoGradGuard no_grad;
    xc = contiguous(x).detach();
  }
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 2] = s.out_h();
  out_shape[out_shape.size() - 1] = s.out_w();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor argmax;
  if (s.has_indices()) argmax = Tensor::empty(out_shape, DType::i64, x.device());
  backend_for(x.device()).pool2d_forward(xc, y, argmax, s);

  return record(op, {x}, y, [s, argmax, in_shape = x.shape()](const TensorList& grads) {
    Tensor gy = grads[0];
    if (!gy.is_contiguous()) gy = contiguous(gy);
    Tensor gx = Tensor::empty(in_shape, gy.dtype(), gy.device());
    backend_for(gy.device()).pool2d_backward(gy, argmax, gx, s);
    return TensorList{gx};
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Pool2dOptions opt) {
  return pool2d(kMaxPool2d, x, opt, PoolKind::max);
}

// avg_pool2d: each window's sum over the input divided by the window clipped to the padded
// input (PyTorch's count_include_pad=True). Backward: dx[h, w] = sum of gy / divisor over
// the windows that contain (h, w).
static const OpInfo& kAvgPool2d = register_op(
    {.name = "avg_pool2d", .family = "cnn", .gradcheck = [](Generator& g) {
       return GradCases{
           pool_case(avg_pool2d, "pool 2, odd width dropped", g, {2, 3, 6, 7}, {.kernel = {2, 2}}),
           pool_case(avg_pool2d, "3x3 stride 2 pad 1 ceil mode: clipped divisors", g, {2, 2, 7, 6},
                     {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}),
           pool_case(avg_pool2d, "overlapping 3x2 stride 1 pad (1, 1)", g, {1, 2, 5, 5},
                     {.kernel = {3, 2}, .stride = {1, 1}, .padding = {1, 1}}),
           pool_case(avg_pool2d, "3-D input", g, {2, 5, 5}, {.kernel = {2, 2}, .stride = {1, 2}})};
     }});

Tensor avg_pool2d(const Tensor& x, Pool2dOptions opt) {
  return pool2d(kAvgPool2d, x, opt, PoolKind::avg);
}

}  // namespace melgrad
