// Shape ops: views that share storage (reshape of contiguous tensors, permute, slice,
// squeeze/unsqueeze, expand), copies (contiguous, clone, dtype/device moves), joining
// (concat, stack) and indexing (index_select, gather). Each view's backward maps the
// gradient back to the input's shape; slices and indexing scatter it into zeros.
#include <algorithm>
#include <stdexcept>

#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

Tensor copy_of(const Tensor& x, DType dtype, Device device) {
  Tensor out = Tensor::empty(x.shape(), dtype, device);
  out.copy_(x);
  return out;
}

}  // namespace

// ---- reshape ---------------------------------------------------------------------------

static const OpInfo& kReshape =
    register_op({.name = "reshape", .family = "shape", .gradcheck = [](Generator& g) {
                   return GradCases{
                       {"contiguous",
                        {gc_input({2, 6}, g)},
                        [](const TensorList& in) {
                          return reshape(in[0], {3, -1});
                        }},
                       {"non-contiguous (copies)", {gc_input({3, 4}, g)}, [](const TensorList& in) {
                          return reshape(transpose(in[0], 0, 1), {12});
                        }}};
                 }});
Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0)
        throw std::invalid_argument("reshape: more than one -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else if (s[i] < 0) {
      throw std::invalid_argument("reshape: negative size in " + shape_str(shape));
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0 && known > 0 && x.numel() % known == 0) s[infer] = x.numel() / known;
  if (numel_of(s) != x.numel() || (infer >= 0 && known == 0))
    throw std::invalid_argument("reshape: cannot view " + x.str() + " (" +
                                std::to_string(x.numel()) + " elements) as " + shape_str(shape));
  if (s == x.shape()) return x;
  Tensor base = x.is_contiguous() ? x : copy_of(x, x.dtype(), x.device());
  Tensor out = base.as_strided(s, contiguous_strides(s), base.offset());
  return record(kReshape, {x}, out,
                [xs = x.shape()](const TensorList& g) { return TensorList{reshape(g[0], xs)}; });
}

Tensor view(const Tensor& x, const Shape& shape) {
  if (!x.is_contiguous())
    throw std::invalid_argument("view: " + x.str() +
                                " is not contiguous; use reshape (which copies) instead");
  return reshape(x, shape);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim(), "flatten");
  end_dim = wrap_dim(end_dim, x.dim(), "flatten");
  if (start_dim > end_dim) throw std::invalid_argument("flatten: start_dim after end_dim");
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t n = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) n *= x.size(d);
  s.push_back(n);
  s.insert(s.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, s);
}

// ---- permute / transpose ------------------------------------------------------------

static const OpInfo& kPermute =
    register_op({.name = "permute", .family = "shape", .gradcheck = [](Generator& g) {
                   return GradCases{{"3-D", {gc_input({2, 3, 4}, g)}, [](const TensorList& in) {
                                       return permute(in[0], {2, 0, 1});
                                     }}};
                 }});
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  if (static_cast<int64_t>(dims.size()) != x.dim())
    throw std::invalid_argument("permute: " + std::to_string(dims.size()) + " dims given for " +
                                x.str());
  std::vector<int64_t> d(dims.size()), inverse(dims.size(), -1);
  Shape shape, strides;
  for (size_t i = 0; i < dims.size(); ++i) {
    d[i] = wrap_dim(dims[i], x.dim(), "permute");
    if (inverse[d[i]] != -1) throw std::invalid_argument("permute: dim repeated in the order");
    inverse[d[i]] = static_cast<int64_t>(i);
    shape.push_back(x.size(d[i]));
    strides.push_back(x.strides()[d[i]]);
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  return record(kPermute, {x}, out,
                [inverse](const TensorList& g) { return TensorList{permute(g[0], inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  d0 = wrap_dim(d0, x.dim(), "transpose");
  d1 = wrap_dim(d1, x.dim(), "transpose");
  std::vector<int64_t> order(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) order[i] = i;
  std::swap(order[d0], order[d1]);
  return permute(x, order);
}

// ---- slice / narrow -------------------------------------------------------------------

static const OpInfo& kSlice = register_op(
    {.name = "slice", .family = "shape", .gradcheck = [](Generator& g) {
       return GradCases{{"rows 1..3",
                         {gc_input({4, 3}, g)},
                         [](const TensorList& in) { return slice(in[0], 0, 1, 3); }},
                        {"every 2nd column", {gc_input({3, 7}, g)}, [](const TensorList& in) {
                           return slice(in[0], 1, 0, 7, 2);
                         }}};
     }});
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = wrap_dim(dim, x.dim(), "slice");
  if (step <= 0)
    throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  const int64_t n = x.size(dim);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = x.as_strided(shape, strides, x.offset() + start * x.strides()[dim]);
  return record(kSlice, {x}, out, [xs = x.shape(), dim, start, step](const TensorList& g) {
    Tensor gx = Tensor::zeros(xs, g[0].dtype(), g[0].device());
    Shape st = gx.strides();
    st[dim] *= step;
    backend_for(gx.device()).copy(g[0], gx.as_strided(g[0].shape(), st, start * gx.strides()[dim]));
    return TensorList{gx};
  });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  dim = wrap_dim(dim, x.dim(), "narrow");
  if (start < 0 || length < 0 || start + length > x.size(dim))
    throw std::invalid_argument("narrow: [" + std::to_string(start) + ", " +
                                std::to_string(start + length) + ") out of range for dim " +
                                std::to_string(dim) + " of " + x.str());
  return slice(x, dim, start, start + length);
}

// ---- squeeze / unsqueeze / expand -------------------------------------------------------

static const OpInfo& kUnsqueeze =
    register_op({.name = "unsqueeze", .family = "shape", .gradcheck = [](Generator& g) {
                   return GradCases{{"middle", {gc_input({3, 4}, g)}, [](const TensorList& in) {
                                       return unsqueeze(in[0], 1);
                                     }}};
                 }});
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  int64_t st = dim < x.dim() ? x.strides()[dim] * x.size(dim) : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, st);
  Tensor out = x.as_strided(shape, strides, x.offset());
  return record(kUnsqueeze, {x}, out,
                [dim](const TensorList& g) { return TensorList{squeeze(g[0], dim)}; });
}

static const OpInfo& kSqueeze =
    register_op({.name = "squeeze", .family = "shape", .gradcheck = [](Generator& g) {
                   return GradCases{{"middle", {gc_input({3, 1, 4}, g)}, [](const TensorList& in) {
                                       return squeeze(in[0], 1);
                                     }}};
                 }});
Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "squeeze");
  if (x.size(dim) != 1) return x;  // as PyTorch: squeezing a dim of size > 1 is a no-op
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Tensor out = x.as_strided(shape, strides, x.offset());
  return record(kSqueeze, {x}, out,
                [dim](const TensorList& g) { return TensorList{unsqueeze(g[0], dim)}; });
}

static const OpInfo& kExpand = register_op(
    {.name = "expand", .family = "shape", .gradcheck = [](Generator& g) {
       return GradCases{{"row to matrix",
                         {gc_input({1, 4}, g)},
                         [](const TensorList& in) {
                           return expand(in[0], {3, 4});
                         }},
                        {"new leading dims", {gc_input({3, 1}, g)}, [](const TensorList& in) {
                           return expand(in[0], {2, 3, 5});
                         }}};
     }});
Tensor expand(const Tensor& x, const Shape& shape) {
  Shape s = shape;
  const size_t lead = s.size() >= x.shape().size() ? s.size() - x.shape().size() : 0;
  for (size_t i = lead; i < s.size(); ++i)
    if (s[i] == -1) s[i] = x.shape()[i - lead];
  if (s == x.shape()) return x;
  Tensor out = broadcast_view(x, s);
  return record(kExpand, {x}, out,
                [xs = x.shape()](const TensorList& g) { return TensorList{sum_to(g[0], xs)}; });
}

// ---- copies ---------------------------------------------------------------------------

static const OpInfo& kClone = register_op(
    {.name = "clone", .family = "shape", .gradcheck = [](Generator& g) {
       return GradCases{
           {"matrix", {gc_input({3, 4}, g)}, [](const TensorList& in) { return clone(in[0]); }},
           {"transposed (contiguous)", {gc_input({3, 4}, g)}, [](const TensorList& in) {
              return contiguous(transpose(in[0], 0, 1));
            }}};
     }});
Tensor clone(const Tensor& x) {
  Tensor out = copy_of(x, x.dtype(), x.device());
  return record(kClone, {x}, out, [](const TensorList& g) { return TensorList{g[0]}; });
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

static const OpInfo& kToDtype = register_op(
    {.name = "to_dtype", .family = "shape", .gradcheck = [](Generator& g) {
       // Through float32 the function is still linear, so a large step is exact up to
       // float32 rounding (~6e-8 / 1e-2 relative).
       return GradCases{{.label = "f64 -> f32 -> f64",
                         .inputs = {gc_input({5}, g)},
                         .fn =
                             [](const TensorList& in) {
                               return to_dtype(to_dtype(in[0], DType::f32), DType::f64) * 1.0;
                             },
                         .eps = 1e-2,
                         .atol = 1e-4,
                         .rtol = 1e-4}};
     }});
Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = copy_of(x, dtype, x.device());
  return record(kToDtype, {x}, out,
                [d = x.dtype()](const TensorList& g) { return TensorList{to_dtype(g[0], d)}; });
}

static const OpInfo& kToDevice =
    register_op({.name = "to_device", .family = "shape", .gradcheck = [](Generator& g) {
                   return GradCases{{"cpu -> cpu", {gc_input({5}, g)}, [](const TensorList& in) {
                                       return to_device(in[0], Device::cpu()) * 2.0;
                                     }}};
                 }});
Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = copy_of(x, x.dtype(), device);
  return record(kToDevice, {x}, out,
                [d = x.device()](const TensorList& g) { return TensorList{to_device(g[0], d)}; });
}

// ---- concat / stack --------------------------------------------------------------------

static const OpInfo& kConcat = register_op(
    {.name = "concat", .family = "shape", .gradcheck = [](Generator& g) {
       return GradCases{{"dim 1",
                         {gc_input({2, 3}, g), gc_input({2, 1}, g), gc_input({2, 2}, g)},
                         [](const TensorList& in) { return concat(in, 1); }},
                        {"stack dim 0",
                         {gc_input({2, 3}, g), gc_input({2, 3}, g)},
                         [](const TensorList& in) { return stack(in, 0); }}};
     }});
Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors given");
  check_device(kConcat, xs);
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "concat");
  Shape shape = first.shape();
  shape[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    check_same_dtype(kConcat, first, x);
    bool ok = x.dim() == first.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || x.size(d) == first.size(d);
    if (!ok)
      throw std::invalid_argument("concat: tensor " + std::to_string(i) + " of shape " +
                                  shape_str(x.shape()) + " does not match " +
                                  shape_str(first.shape()) + " outside dim " + std::to_string(dim));
    shape[dim] += x.size(dim);
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  std::vector<int64_t> sizes;
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    Shape part = shape;
    part[dim] = x.size(dim);
    backend_for(out.device())
        .copy(x, out.as_strided(part, out.strides(), offset * out.strides()[dim]));
    offset += x.size(dim);
    sizes.push_back(x.size(dim));
  }
  return record(kConcat, xs, out, [sizes, dim](const TensorList& g) {
    TensorList grads;
    int64_t start = 0;
    for (int64_t n : sizes) {
      grads.push_back(slice(g[0], dim, start, start + n));
      start += n;
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("stack: no tensors given");
  std::vector<Tensor> parts;
  for (const Tensor& x : xs) {
    if (x.shape() != xs[0].shape())
      throw std::invalid_argument("stack: shapes " + shape_str(xs[0].shape()) + " and " +
                                  shape_str(x.shape()) + " differ");
    parts.push_back(unsqueeze(x, wrap_dim(dim, x.dim() + 1, "stack")));
  }
  return concat(parts, dim);
}

// ---- indexing -------------------------------------------------------------------------

static const OpInfo& kIndexSelect = register_op(
    {.name = "index_select", .family = "indexing", .gradcheck = [](Generator& g) {
       Tensor idx = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 1}, {4});
       return GradCases{{"rows with a repeat",
                         {gc_input({3, 4}, g), idx},
                         [](const TensorList& in) { return index_select(in[0], 0, in[1]); }},
                        {"columns", {gc_input({2, 3}, g), idx}, [](const TensorList& in) {
                           return index_select(in[0], 1, in[1]);
                         }}};
     }});
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_device(kIndexSelect, {x, index});
  check_floating(kIndexSelect, x);
  check_index(kIndexSelect, index);
  if (index.dim() != 1)
    throw std::invalid_argument("index_select: index must be 1-D, got " + index.str());
  dim = wrap_dim(dim, x.dim(), "index_select");
  Shape shape = x.shape();
  shape[dim] = index.numel();
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_for(x.device()).index_select(x, dim, index, out);
  return record(kIndexSelect, {x, index}, out,
                [xs = x.shape(), dim, index = index.detach()](const TensorList& g) {
                  Tensor gx = Tensor::zeros(xs, g[0].dtype(), g[0].device());
                  backend_for(gx.device()).index_add(gx, dim, index, g[0]);
                  return TensorList{gx, Tensor()};
                });
}

static const OpInfo& kGather = register_op(
    {.name = "gather", .family = "indexing", .gradcheck = [](Generator& g) {
       Tensor idx = Tensor::from_vector(std::vector<int64_t>{0, 2, 1, 1, 3, 0}, {3, 2});
       return GradCases{{"pick per row", {gc_input({3, 4}, g), idx}, [](const TensorList& in) {
                           return gather(in[0], 1, in[1]);
                         }}};
     }});
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_device(kGather, {x, index});
  check_floating(kGather, x);
  check_index(kGather, index);
  dim = wrap_dim(dim, x.dim(), "gather");
  bool ok = index.dim() == x.dim();
  for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || index.size(d) == x.size(d);
  if (!ok)
    throw std::invalid_argument("gather: index shape " + shape_str(index.shape()) +
                                " must match input shape " + shape_str(x.shape()) +
                                " except along dim " + std::to_string(dim));
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  backend_for(x.device()).gather(x, dim, index, out);
  return record(kGather, {x, index}, out,
                [xs = x.shape(), dim, index = index.detach()](const TensorList& g) {
                  Tensor gx = Tensor::zeros(xs, g[0].dtype(), g[0].device());
                  backend_for(gx.device()).scatter_add(gx, dim, index, g[0]);
                  return TensorList{gx, Tensor()};
                });
}

// ---- Tensor member conveniences ----------------------------------------------------------

Tensor Tensor::reshape(const Shape& s) const { return melgrad::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return melgrad::view(*this, s); }
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return melgrad::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return melgrad::transpose(*this, a, b); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t n) const {
  return melgrad::narrow(*this, d, s, n);
}
Tensor Tensor::unsqueeze(int64_t d) const { return melgrad::unsqueeze(*this, d); }
Tensor Tensor::squeeze(int64_t d) const { return melgrad::squeeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return melgrad::expand(*this, s); }
Tensor Tensor::flatten(int64_t a, int64_t b) const { return melgrad::flatten(*this, a, b); }
Tensor Tensor::contiguous() const { return melgrad::contiguous(*this); }
Tensor Tensor::clone() const { return melgrad::clone(*this); }
Tensor Tensor::to(DType d) const { return melgrad::to_dtype(*this, d); }
Tensor Tensor::to(Device d) const { return melgrad::to_device(*this, d); }

}  // namespace melgrad
