// Batched 2-D transpose and the generic strided copy (see transpose.h), with references.
// transpose_tiled: a 32 x 8 block moves a 32 x 32 tile: it reads 32 rows of x with
// coalesced loads into tile[32][33] in shared memory (the extra column puts a tile column
// in 32 different banks), then writes 32 rows of y, reading the tile down its columns.
// Row tiles beyond the grid's y limit, and batch entries beyond ~32 blocks per SM, are
// covered by grid-stride loops (a second barrier guards the tile between iterations).
// strided_copy_kernel: a grid-stride loop over the coalesced shape, offsets decomposed
// from the linear index as in elementwise.cu; T is uint32_t or uint64_t (bit copies).
#include <cstring>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/transpose.h"

namespace melgrad::kernels {
namespace {

constexpr int kTile = kTransposeTile;
constexpr int kRowsPerPass = 8;  // blockDim.y: each thread moves kTile / 8 elements
constexpr int kCopyThreads = 256;
constexpr int kBlocksPerSm = 8;

template <class T>
__global__ void __launch_bounds__(kTile* kRowsPerPass)
    transpose_tiled(const T* x, T* y, int64_t batch, int64_t rows, int64_t cols) {
  MG_SHARED_2D(T, tile, kTile, kTile + 1);
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  const int64_t col0 = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const T* xb = x + b * rows * cols;
    T* yb = y + b * rows * cols;
    for (int64_t rt = blockIdx.y; rt < row_tiles; rt += gridDim.y) {
      const int64_t row0 = rt * kTile;
      for (int r = ty; r < kTile; r += kRowsPerPass) {  // x rows row0 + r, columns col0 + tx
        const int64_t i = row0 + r, j = col0 + tx;
        if (i < rows && j < cols) tile[r][tx] = xb[i * cols + j];
      }
      __syncthreads();
      for (int r = ty; r < kTile; r += kRowsPerPass) {  // y rows col0 + r, columns row0 + tx
        const int64_t j = col0 + r, i = row0 + tx;
        if (i < rows && j < cols) yb[j * rows + i] = tile[tx][r];
      }
      __syncthreads();  // the tile is rewritten by the next iteration
    }
  }
}

struct CopyIndexer {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t x_strides[kMaxDims];
  int64_t y_strides[kMaxDims];
};

template <class T>
__global__ void __launch_bounds__(kCopyThreads)
    strided_copy_kernel(const T* x, T* y, int64_t n, CopyIndexer ix) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += step) {
    int64_t rem = k, xo = 0, yo = 0;
    for (int d = ix.ndim - 1; d >= 0; --d) {
      const int64_t i = rem % ix.sizes[d];
      rem /= ix.sizes[d];
      xo += i * ix.x_strides[d];
      yo += i * ix.y_strides[d];
    }
    y[yo] = x[xo];
  }
}

template <class T>
void launch_transpose(const T* x, T* y, int64_t batch, int64_t rows, int64_t cols, Stream stream) {
  const int64_t col_tiles = ceil_div(cols, kTile), row_tiles = ceil_div(rows, kTile);
  require_grid_x("transpose", col_tiles);
  // Batch entries beyond what fills the GPU (32 blocks per SM) loop inside the blocks.
  const int64_t fill = static_cast<int64_t>(device_sm_count()) * 32 / (col_tiles * row_tiles);
  int64_t z = batch < fill ? batch : fill;
  z = z < 1 ? 1 : (z > 65535 ? 65535 : z);
  const dim3 grid(static_cast<unsigned>(col_tiles),
                  static_cast<unsigned>(row_tiles < 65535 ? row_tiles : 65535),
                  static_cast<unsigned>(z));
  MG_LAUNCH(transpose_tiled<T>, grid, dim3(kTile, kRowsPerPass), 0, stream)
  (x, y, batch, rows, cols);
}

// Drops size-1 dimensions and merges neighbours that are contiguous in both x and y.
CopyIndexer coalesce(const StridedCopyParams& p) {
  CopyIndexer ix{};
  for (int d = 0; d < p.shape.ndim; ++d) {
    if (p.shape.sizes[d] == 1) continue;
    if (ix.ndim > 0) {
      const int last = ix.ndim - 1;
      if (ix.x_strides[last] == p.x_strides.v[d] * p.shape.sizes[d] &&
          ix.y_strides[last] == p.y_strides.v[d] * p.shape.sizes[d]) {
        ix.sizes[last] *= p.shape.sizes[d];
        ix.x_strides[last] = p.x_strides.v[d];
        ix.y_strides[last] = p.y_strides.v[d];
        continue;
      }
    }
    ix.sizes[ix.ndim] = p.shape.sizes[d];
    ix.x_strides[ix.ndim] = p.x_strides.v[d];
    ix.y_strides[ix.ndim] = p.y_strides.v[d];
    ++ix.ndim;
  }
  return ix;
}

// A coalesced copy [B,] R x C into a contiguous y whose x is the contiguous [B,] C x R
// read transposed: the transpose kernel's job, with rows = C and cols = R of the source.
bool is_transpose(const CopyIndexer& ix) {
  if (ix.ndim != 2 && ix.ndim != 3) return false;
  const int d = ix.ndim - 2;
  const int64_t r = ix.sizes[d], c = ix.sizes[d + 1];
  const bool y_contiguous = ix.y_strides[d + 1] == 1 && ix.y_strides[d] == c &&
                            (ix.ndim == 2 || ix.y_strides[0] == r * c);
  const bool x_swapped = ix.x_strides[d] == 1 && ix.x_strides[d + 1] == r &&
                         (ix.ndim == 2 || ix.x_strides[0] == r * c);
  return y_contiguous && x_swapped;
}

template <class T>
void launch_copy(const StridedCopyParams& p, const CopyIndexer& ix, int64_t n, Stream stream) {
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  if (is_transpose(ix)) {
    const int d = ix.ndim - 2;
    launch_transpose<T>(x, y, ix.ndim == 3 ? ix.sizes[0] : 1, ix.sizes[d + 1], ix.sizes[d], stream);
    return;
  }
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const int64_t blocks = ceil_div(n, kCopyThreads);
  MG_LAUNCH(strided_copy_kernel<T>, dim3(static_cast<unsigned>(blocks < cap ? blocks : cap)),
            kCopyThreads, 0, stream)
  (x, y, n, ix);
}

}  // namespace

void transpose(const TransposeParams& p, Stream stream) {
  const char* fn = "transpose";
  require_non_negative(fn, "batch", p.batch);
  require_non_negative(fn, "rows", p.rows);
  require_non_negative(fn, "cols", p.cols);
  if (p.batch == 0 || p.rows == 0 || p.cols == 0) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  if (p.x == p.y) invalid_params(fn, "in place (x == y) is not supported");
  launch_transpose<float>(p.x, p.y, p.batch, p.rows, p.cols, stream);
  MG_CHECK_LAUNCH(fn);
}

void strided_copy(const StridedCopyParams& p, Stream stream) {
  const char* fn = "strided_copy";
  if (p.shape.ndim < 0 || p.shape.ndim > kMaxDims) {
    invalid_params(fn, "ndim must be in 0.." + std::to_string(kMaxDims) + " (got " +
                           std::to_string(p.shape.ndim) + ")");
  }
  for (int d = 0; d < p.shape.ndim; ++d) {
    require_non_negative(fn, ("shape.sizes[" + std::to_string(d) + "]").c_str(), p.shape.sizes[d]);
  }
  if (p.element_size != 4 && p.element_size != 8) {
    invalid_params(
        fn, "element_size must be 4 or 8 bytes (got " + std::to_string(p.element_size) + ")");
  }
  const int64_t n = p.shape.numel();
  if (n == 0) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  const CopyIndexer ix = coalesce(p);
  if (p.element_size == 4)
    launch_copy<uint32_t>(p, ix, n, stream);
  else
    launch_copy<uint64_t>(p, ix, n, stream);
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references ----
void transpose_reference(const TransposeParams& p) {
  for (int64_t b = 0; b < p.batch; ++b) {
    const float* x = p.x + b * p.rows * p.cols;
    float* y = p.y + b * p.rows * p.cols;
    for (int64_t i = 0; i < p.rows; ++i)
      for (int64_t j = 0; j < p.cols; ++j) y[j * p.rows + i] = x[i * p.cols + j];
  }
}

void strided_copy_reference(const StridedCopyParams& p) {
  const int64_t n = p.shape.numel();
  const auto* x = static_cast<const unsigned char*>(p.x);
  auto* y = static_cast<unsigned char*>(p.y);
  for (int64_t k = 0; k < n; ++k) {
    int64_t rem = k, xo = 0, yo = 0;
    for (int d = p.shape.ndim - 1; d >= 0; --d) {
      const int64_t i = rem % p.shape.sizes[d];
      rem /= p.shape.sizes[d];
      xo += i * p.x_strides.v[d];
      yo += i * p.y_strides.v[d];
    }
    std::memcpy(y + yo * p.element_size, x + xo * p.element_size,
                static_cast<std::size_t>(p.element_size));
  }
}

}  // namespace melgrad::kernels
