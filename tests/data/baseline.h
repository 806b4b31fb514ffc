// Tiny reference models for the generator tests: hand-made clip features, a nearest-
// centroid classifier, ridge regression and Spearman's rho. They show that the synthetic
// data set carries a learnable but imperfect signal without needing the engine.
//
// Features of a fused clip [T, 140] (25 numbers): for 8 groups of 16 mel bands, the mean
// level and the standard deviation over time of the group level; the chroma interval
// profile sum_pc c[pc] c[pc + k] for k = 0..6 averaged over frames (key-invariant, so it
// sees the mode); mean absolute frame-to-frame change of the lowest group and of all bands.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "datasets/patreco3.h"

namespace melgrad::data::testing {

inline std::vector<double> clip_features(const Clip& c, int64_t F) {
  const int64_t T = c.frames;
  auto v = [&](int64_t t, int64_t f) {
    return static_cast<double>(c.values[static_cast<size_t>(t * F + f)]);
  };
  std::vector<double> out;
  std::vector<double> low(static_cast<size_t>(T)), all(static_cast<size_t>(T));
  for (int g = 0; g < 8; ++g) {
    std::vector<double> level(static_cast<size_t>(T), 0.0);
    for (int64_t t = 0; t < T; ++t) {
      for (int b = 0; b < 16; ++b) level[static_cast<size_t>(t)] += v(t, g * 16 + b) / 16.0;
      if (g == 0) low[static_cast<size_t>(t)] = level[static_cast<size_t>(t)];
      all[static_cast<size_t>(t)] += level[static_cast<size_t>(t)] / 8.0;
    }
    const double mean = std::accumulate(level.begin(), level.end(), 0.0) / static_cast<double>(T);
    double var = 0;
    for (double x : level) var += (x - mean) * (x - mean);
    out.push_back(mean);
    out.push_back(std::sqrt(var / static_cast<double>(T)));
  }
  for (int k = 0; k <= 6; ++k) {
    double s = 0;
    for (int64_t t = 0; t < T; ++t)
      for (int pc = 0; pc < 12; ++pc) s += v(t, 128 + pc) * v(t, 128 + (pc + k) % 12);
    out.push_back(s / static_cast<double>(T));
  }
  for (const auto* series : {&low, &all}) {
    double d = 0;
    for (int64_t t = 1; t < T; ++t)
      d += std::abs((*series)[static_cast<size_t>(t)] - (*series)[static_cast<size_t>(t - 1)]);
    out.push_back(T > 1 ? d / static_cast<double>(T - 1) : 0.0);
  }
  return out;
}

// Standardises rows of X in place with the mean/std of the rows listed in `fit`.
inline void standardise_rows(std::vector<std::vector<double>>& X, const std::vector<int64_t>& fit) {
  const size_t D = X.front().size();
  for (size_t j = 0; j < D; ++j) {
    double m = 0, q = 0;
    for (int64_t i : fit) m += X[static_cast<size_t>(i)][j];
    m /= static_cast<double>(fit.size());
    for (int64_t i : fit)
      q += (X[static_cast<size_t>(i)][j] - m) * (X[static_cast<size_t>(i)][j] - m);
    const double sd = std::max(1e-9, std::sqrt(q / static_cast<double>(fit.size())));
    for (auto& row : X) row[j] = (row[j] - m) / sd;
  }
}

// Accuracy of a nearest-class-mean classifier fitted on `train`, evaluated on `test`.
inline double nearest_centroid_accuracy(const std::vector<std::vector<double>>& X,
                                        const std::vector<int64_t>& y,
                                        const std::vector<int64_t>& train,
                                        const std::vector<int64_t>& test, int classes) {
  const size_t D = X.front().size();
  std::vector<std::vector<double>> mean(static_cast<size_t>(classes), std::vector<double>(D, 0.0));
  std::vector<int> count(static_cast<size_t>(classes), 0);
  for (int64_t i : train) {
    const auto c = static_cast<size_t>(y[static_cast<size_t>(i)]);
    ++count[c];
    for (size_t j = 0; j < D; ++j) mean[c][j] += X[static_cast<size_t>(i)][j];
  }
  for (size_t c = 0; c < mean.size(); ++c)
    for (double& m : mean[c]) m /= std::max(1, count[c]);
  int correct = 0;
  for (int64_t i : test) {
    double best = 1e300;
    int64_t pick = -1;
    for (size_t c = 0; c < mean.size(); ++c) {
      if (!count[c]) continue;
      double d = 0;
      for (size_t j = 0; j < D; ++j) d += std::pow(X[static_cast<size_t>(i)][j] - mean[c][j], 2);
      if (d < best) best = d, pick = static_cast<int64_t>(c);
    }
    correct += pick == y[static_cast<size_t>(i)];
  }
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

// Ridge regression (bias unpenalised) fitted on `train`; returns predictions for every row.
inline std::vector<double> ridge_predict(const std::vector<std::vector<double>>& X,
                                         const std::vector<double>& y,
                                         const std::vector<int64_t>& train, double lambda) {
  const size_t D = X.front().size() + 1;
  std::vector<std::vector<double>> A(D, std::vector<double>(D + 1, 0.0));
  for (int64_t i : train) {
    std::vector<double> x = X[static_cast<size_t>(i)];
    x.push_back(1.0);
    for (size_t a = 0; a < D; ++a) {
      for (size_t b = 0; b < D; ++b) A[a][b] += x[a] * x[b];
      A[a][D] += x[a] * y[static_cast<size_t>(i)];
    }
  }
  for (size_t a = 0; a + 1 < D; ++a) A[a][a] += lambda;
  for (size_t col = 0; col < D; ++col) {  // Gauss–Jordan with partial pivoting
    size_t piv = col;
    for (size_t r = col + 1; r < D; ++r)
      if (std::abs(A[r][col]) > std::abs(A[piv][col])) piv = r;
    std::swap(A[col], A[piv]);
    for (size_t r = 0; r < D; ++r) {
      if (r == col) continue;
      const double f = A[r][col] / A[col][col];
      for (size_t k = col; k <= D; ++k) A[r][k] -= f * A[col][k];
    }
  }
  std::vector<double> w(D);
  for (size_t a = 0; a < D; ++a) w[a] = A[a][D] / A[a][a];
  std::vector<double> pred;
  for (const auto& row : X) {
    double p = w[D - 1];
    for (size_t j = 0; j + 1 < D; ++j) p += w[j] * row[j];
    pred.push_back(p);
  }
  return pred;
}

inline std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * static_cast<double>(i + j) + 1.0;
    i = j + 1;
  }
  return r;
}

inline double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ra = average_ranks(a), rb = average_ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n,
               mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

}  // namespace melgrad::data::testing
