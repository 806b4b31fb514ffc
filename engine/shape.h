// Shapes and strides: contiguous strides, broadcasting, dimension wrapping, printing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace melgrad {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// A shape seen as [outer, size(dim), inner] around `dim` (0 <= dim < ndim), the view the
// indexing kernels take: outer = product of the sizes before dim, inner = after it.
struct DimSplit {
  int64_t outer = 1, inner = 1;
};
DimSplit split_at(const Shape& shape, int64_t dim);

// The broadcast of two shapes (NumPy rules); throws naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace melgrad
