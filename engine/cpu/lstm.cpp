// CPU LSTM kernels (see lstm.h for the layout and the plan): input projection as one GEMM,
// a step loop with one small recurrent GEMM and a fused gate + cell update per step,
// directions on two OpenMP threads, and BPTT whose weight/input gradients are GEMMs over
// all steps after the loop. Shapes: x [N, T, I], gates [N, T, D*4H], output and cells
// [N, T, D*H], h_n/c_n [D, N, H].
#include "engine/cpu/lstm.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

namespace melgrad::cpu {

namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Stride = Eigen::OuterStride<>;
template <class T>
using RowMap = Eigen::Map<RowMat<T>, 0, Stride>;
template <class T>
using ConstRowMap = Eigen::Map<const RowMat<T>, 0, Stride>;
template <class T>
using ConstColMap = Eigen::Map<const ColMat<T>, 0, Stride>;
template <class T>
using Vec = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstVec = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// The order the step loops visit the batch in: longest sequence first (stable, so the
// result is deterministic), which makes the sequences still running at step s the rows
// [0, active[s]) of the state matrices.
struct Schedule {
  std::vector<int64_t> order;   // state row r holds sequence order[r]
  std::vector<int64_t> len;     // len[r] = lengths[order[r]]
  std::vector<int64_t> active;  // active[s] = number of sequences longer than s

  Schedule(const int64_t* lengths, int64_t n) : order(n), len(n) {
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
    for (int64_t r = 0; r < n; ++r) len[r] = lengths[order[r]];
    active.assign(n > 0 ? len[0] : 0, 0);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t s = 0; s < len[r]; ++s) ++active[s];
  }
  int64_t steps() const { return static_cast<int64_t>(active.size()); }
  // The time index that row r is at on its step s (the reverse direction starts at its
  // own last real step).
  int64_t time(int64_t r, int64_t s, bool reverse) const { return reverse ? len[r] - 1 - s : s; }
};

// Runs fn(d) for d in [0, D): on two threads when D == 2 and OpenMP may use two (Eigen's
// products inside a parallel region run single-threaded, so each direction's GEMMs stay on
// its own core), inline otherwise.
template <class F>
void for_each_direction(int64_t D, F&& fn) {
  if (D == 2 && omp_get_max_threads() >= 2) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int d = 0; d < 2; ++d) fn(d);
  } else {
    for (int d = 0; d < D; ++d) fn(d);
  }
}

// ---- forward ---------------------------------------------------------------------------

// One direction's step loop. `ws` holds 6H * N values of workspace: h [N, H], c [N, H],
// rec [N, 4H] (state rows in schedule order).
template <class T>
void forward_direction(const LstmForwardParams<T>& p, int d, const Schedule& sch, T* ws) {
  const int64_t N = p.dims.batch, Tn = p.dims.steps, H = p.dims.hidden, D = p.dims.directions;
  const int64_t G = 4 * H, ldg = D * G, ldo = D * H;
  const LstmDirectionParams<T>& w = p.dir[d];
  T* h = ws;
  T* c = ws + N * H;
  T* rec = ws + 2 * N * H;
  std::fill(h, h + 2 * N * H, T(0));
  const ConstColMap<T> w_hh_t(w.w_hh, H, G, Stride(H));  // W_hh^T as an [H, 4H] view

  for (int64_t s = 0; s < sch.steps(); ++s) {
    const int64_t n = sch.active[s];
    if (s > 0)  // h_{s-1} W_hh^T for the running sequences (h_0 = 0 needs none)
      RowMap<T>(rec, n, G, Stride(G)).noalias() = ConstRowMap<T>(h, n, H, Stride(H)) * w_hh_t;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t idx = sch.order[r] * Tn + sch.time(r, s, w.reverse);
      // Pre-activations (x W_ih^T + b_ih + b_hh, from the projection) + recurrent part,
      // activated in place: the workspace keeps i, f, g, o for the backward.
      Vec<T> a(p.gates + idx * ldg + d * G, G);
      if (s > 0) a += ConstVec<T>(rec + r * G, G);
      a.head(2 * H) = (T(1) + (-a.head(2 * H)).exp()).inverse();
      a.segment(2 * H, H) = a.segment(2 * H, H).tanh();
      a.tail(H) = (T(1) + (-a.tail(H)).exp()).inverse();
      Vec<T> cs(c + r * H, H), hs(h + r * H, H);
      cs = a.segment(H, H) * cs + a.head(H) * a.segment(2 * H, H);
      hs = a.tail(H) * cs.tanh();
      std::memcpy(p.output + idx * ldo + d * H, hs.data(), H * sizeof(T));
      if (p.cells) std::memcpy(p.cells + idx * ldo + d * H, cs.data(), H * sizeof(T));
    }
  }
  for (int64_t r = 0; r < N; ++r) {  // each row stopped changing after its last step
    std::memcpy(p.h_n + (d * N + sch.order[r]) * H, h + r * H, H * sizeof(T));
    std::memcpy(p.c_n + (d * N + sch.order[r]) * H, c + r * H, H * sizeof(T));
  }
}

// ---- backward --------------------------------------------------------------------------

// One direction's BPTT loop: writes the pre-activation gradients into dG_all (direction
// d's columns) and the previous hidden state of every real step into hprev [N*T, H]
// (zero-filled by the caller) for the weight gradient. `ws` holds (7H + 3) * N values:
// dh [N, H], dc [N, H], dgs [N, 4H] (this step's dG rows, contiguous for the GEMM), and
// 3H scratch.
template <class T>
void backward_direction(const LstmBackwardParams<T>& p, int d, const Schedule& sch, T* ws,
                        T* dG_all, T* hprev) {
  const int64_t N = p.dims.batch, Tn = p.dims.steps, H = p.dims.hidden, D = p.dims.directions;
  const int64_t G = 4 * H, ldg = D * G, ldo = D * H;
  const LstmDirectionParams<T>& w = p.dir[d];
  const bool rev = w.reverse;
  T* dh = ws;
  T* dc = ws + N * H;
  T* dgs = ws + 2 * N * H;
  Vec<T> tc(ws + 6 * N * H, H);  // tanh(c_t)
  for (int64_t r = 0; r < N; ++r) {
    std::memcpy(dh + r * H, p.grad_h_n + (d * N + sch.order[r]) * H, H * sizeof(T));
    std::memcpy(dc + r * H, p.grad_c_n + (d * N + sch.order[r]) * H, H * sizeof(T));
  }
  const ConstRowMap<T> w_hh(w.w_hh, G, H, Stride(H));

  for (int64_t s = sch.steps() - 1; s >= 0; --s) {
    const int64_t n = sch.active[s];
    for (int64_t r = 0; r < n; ++r) {
      const int64_t b = sch.order[r], t = sch.time(r, s, rev), idx = b * Tn + t;
      const T* g = p.gates + idx * ldg + d * G;
      const ConstVec<T> i(g, H), f(g + H, H), gg(g + 2 * H, H), o(g + 3 * H, H);
      Vec<T> dH(dh + r * H, H), dC(dc + r * H, H);
      dH += ConstVec<T>(p.grad_output + idx * ldo + d * H, H);
      tc = ConstVec<T>(p.cells + idx * ldo + d * H, H).tanh();
      dC += dH * o * (T(1) - tc.square());
      T* dg = dgs + r * G;
      Vec<T>(dg, H) = dC * gg * i * (T(1) - i);
      if (s > 0) {
        const int64_t tp = rev ? t + 1 : t - 1;  // the step before, in this direction
        Vec<T>(dg + H, H) =
            dC * ConstVec<T>(p.cells + (b * Tn + tp) * ldo + d * H, H) * f * (T(1) - f);
        std::memcpy(hprev + idx * H, p.output + (b * Tn + tp) * ldo + d * H, H * sizeof(T));
      } else {
        Vec<T>(dg + H, H).setZero();  // c_{-1} = 0
      }
      Vec<T>(dg + 2 * H, H) = dC * i * (T(1) - gg.square());
      Vec<T>(dg + 3 * H, H) = dH * tc * o * (T(1) - o);
      dC *= f;
      std::memcpy(dG_all + idx * ldg + d * G, dg, G * sizeof(T));
    }
    if (s > 0)  // dh_{s-1} = dG_s W_hh for the rows that ran at step s
      RowMap<T>(dh, n, H, Stride(H)).noalias() = ConstRowMap<T>(dgs, n, G, Stride(G)) * w_hh;
  }
}

}  // namespace

template <class T>
void lstm_forward(const LstmForwardParams<T>& p) {
  const int64_t N = p.dims.batch, Tn = p.dims.steps, I = p.dims.input, H = p.dims.hidden;
  const int64_t D = p.dims.directions, G = 4 * H, NT = N * Tn;
  const Schedule sch(p.lengths, N);
  const ConstRowMap<T> X(p.x, NT, I, Stride(I));
  std::vector<std::vector<T>> ws(D, std::vector<T>(6 * N * H));
  for_each_direction(D, [&](int d) {
    // Input projection of every step: gates[:, :, d] = x W_ih^T + (b_ih + b_hh).
    const LstmDirectionParams<T>& w = p.dir[d];
    RowMap<T> Gd(p.gates + d * G, NT, G, Stride(D * G));
    Gd.noalias() = X * ConstColMap<T>(w.w_ih, I, G, Stride(I));
    const Eigen::Matrix<T, 1, Eigen::Dynamic> bias =
        ConstVec<T>(w.b_ih, G).matrix().transpose() + ConstVec<T>(w.b_hh, G).matrix().transpose();
    Gd.rowwise() += bias;
    forward_direction(p, d, sch, ws[d].data());
  });
}

template <class T>
void lstm_backward(const LstmBackwardParams<T>& p) {
  const int64_t N = p.dims.batch, Tn = p.dims.steps, I = p.dims.input, H = p.dims.hidden;
  const int64_t D = p.dims.directions, G = 4 * H, NT = N * Tn;
  const Schedule sch(p.lengths, N);
  std::vector<T> dG_all(NT * D * G, T(0));  // zero at padded steps: they add nothing below
  std::vector<std::vector<T>> hprev(D, std::vector<T>(NT * H, T(0)));
  std::vector<std::vector<T>> ws(D, std::vector<T>((7 * H + 3) * N));
  const ConstRowMap<T> X(p.x, NT, I, Stride(I));
  for_each_direction(D, [&](int d) {
    backward_direction(p, d, sch, ws[d].data(), dG_all.data(), hprev[d].data());
    // This direction's gradients over all steps at once: dW_ih = dG^T x, dW_hh = dG^T
    // h_prev, db = sum dG (on this direction's thread).
    const ConstRowMap<T> dG(dG_all.data() + d * G, NT, G, Stride(D * G));
    if (p.grad_b_ih[d] || p.grad_b_hh[d]) {
      const Eigen::Matrix<T, 1, Eigen::Dynamic> db = dG.colwise().sum();
      if (p.grad_b_ih[d]) std::memcpy(p.grad_b_ih[d], db.data(), G * sizeof(T));
      if (p.grad_b_hh[d]) std::memcpy(p.grad_b_hh[d], db.data(), G * sizeof(T));
    }
    if (p.grad_w_ih[d]) RowMap<T>(p.grad_w_ih[d], G, I, Stride(I)).noalias() = dG.transpose() * X;
    if (p.grad_w_hh[d])
      RowMap<T>(p.grad_w_hh[d], G, H, Stride(H)).noalias() =
          dG.transpose() * ConstRowMap<T>(hprev[d].data(), NT, H, Stride(H));
  });
  if (!p.grad_x) return;
  // dx = sum_d dG_d W_ih[d]; with two directions the rows are split over two threads.
  auto input_grad = [&](int64_t r0, int64_t r1) {
    RowMap<T> dX(p.grad_x + r0 * I, r1 - r0, I, Stride(I));
    for (int64_t d = 0; d < D; ++d) {
      const ConstRowMap<T> dG(dG_all.data() + r0 * D * G + d * G, r1 - r0, G, Stride(D * G));
      const ConstRowMap<T> W(p.dir[d].w_ih, G, I, Stride(I));
      if (d == 0)
        dX.noalias() = dG * W;
      else
        dX.noalias() += dG * W;
    }
  };
  if (D == 2 && omp_get_max_threads() >= 2) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int half = 0; half < 2; ++half) input_grad(half * NT / 2, (half + 1) * NT / 2);
  } else {
    input_grad(0, NT);
  }
}

template void lstm_forward<float>(const LstmForwardParams<float>&);
template void lstm_forward<double>(const LstmForwardParams<double>&);
template void lstm_backward<float>(const LstmBackwardParams<float>&);
template void lstm_backward<double>(const LstmBackwardParams<double>&);

}  // namespace melgrad::cpu
