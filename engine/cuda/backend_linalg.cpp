// CudaBackend: batched matmul on kernels/gemm.h (the hand-written SGEMM in the emulator,
// cuBLAS or it on a GPU, chosen by MELGRAD_GEMM). Row-major operands and transposed views
// (column-major matrices) map onto GEMM's layouts without a copy, batch stride 0 broadcasts
// one matrix over the batch; any other layout is packed once.
#include <algorithm>
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/gemm.h"

namespace melgrad::cuda {

namespace {

bool row_major(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return (cs == 1 || cols == 1) && (rs >= cols || rows == 1);
}
bool col_major(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return (rs == 1 || rows == 1) && (cs >= rows || cols == 1);
}

// One [B, rows, cols] operand as GEMM sees it; `storage` keeps a packed copy alive.
struct GemmOperand {
  Tensor storage;
  const float* data = nullptr;
  bool transposed = false;  // stored [cols, rows] row-major
  int64_t ld = 1, batch_stride = 0;
};

GemmOperand gemm_operand(const Tensor& x) {
  const int64_t rows = x.size(1), cols = x.size(2);
  Tensor t = x;
  if (!row_major(rows, cols, x.strides()[1], x.strides()[2]) &&
      !col_major(rows, cols, x.strides()[1], x.strides()[2]))
    t = contiguous_on_device(x);
  const int64_t rs = t.strides()[1], cs = t.strides()[2];
  GemmOperand op;
  op.storage = t;
  op.data = static_cast<const float*>(t.raw_data());
  op.batch_stride = t.size(0) > 1 ? t.strides()[0] : 0;
  if (row_major(rows, cols, rs, cs)) {
    op.ld = std::max<int64_t>({rs, cols, 1});
  } else {
    op.transposed = true;
    op.ld = std::max<int64_t>({cs, rows, 1});
  }
  return op;
}

}  // namespace

void CudaBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  require_f32("matmul", {&a, &b, &out});
  if (a.dim() != 3 || b.dim() != 3 || out.dim() != 3 || !out.is_contiguous())
    throw std::logic_error("cuda backend: matmul expects [B,M,K] @ [B,K,N] -> contiguous [B,M,N]");
  const int64_t B = out.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  const GemmOperand ga = gemm_operand(a), gb = gemm_operand(b);
  kernels::GemmParams p;
  p.trans_a = ga.transposed;
  p.trans_b = gb.transposed;
  p.m = M;
  p.n = N;
  p.k = K;
  p.a = ga.data;
  p.lda = ga.ld;
  p.stride_a = ga.batch_stride;
  p.b = gb.data;
  p.ldb = gb.ld;
  p.stride_b = gb.batch_stride;
  p.c = static_cast<float*>(out.raw_data());
  p.ldc = std::max<int64_t>(N, 1);
  p.stride_c = M * N;
  p.batch = B;
  kernels::gemm(p, stream());
}

}  // namespace melgrad::cuda
