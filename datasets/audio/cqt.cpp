// The multirate constant-Q transform of librosa.vqt (gamma 0): see cqt.h. Comments give the
// librosa/numpy expression each step reproduces and the dtype it runs in, because parity at
// 1e-3 after chroma's normalisation depends on rounding to complex64 where librosa does.
#include "datasets/audio/cqt.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>

#include "datasets/audio/frame_fft.h"
#include "datasets/audio/resample.h"
#include "datasets/audio/tuning.h"

namespace melgrad::audio {
namespace {

constexpr double kHannBandwidth = 1.50018310546875;  // filters.WINDOW_BANDWIDTHS["hann"]
constexpr float kSparsity = 0.01f;                   // vqt's sparsity (compared in float32)

// One octave's FFT-domain filters in compressed-row form (scipy's csr_matrix), complex64.
struct SparseBasis {
  int64_t n_fft = 0;
  std::vector<size_t> row_start;  // [rows + 1]
  std::vector<int32_t> column;
  std::vector<std::complex<float>> value;
  int64_t rows() const { return int64_t(row_start.size()) - 1; }
};

// _relative_bandwidth: alpha from the local octave resolution, one-sided at both ends.
std::vector<double> relative_bandwidth(const std::vector<double>& freqs) {
  const size_t n = freqs.size();
  if (n < 2) throw std::invalid_argument("cqt: 2 or more frequency bins are required");
  std::vector<double> logf(n), bpo(n), alpha(n);
  for (size_t i = 0; i < n; ++i) logf[i] = std::log2(freqs[i]);
  bpo[0] = 1 / (logf[1] - logf[0]);
  bpo[n - 1] = 1 / (logf[n - 1] - logf[n - 2]);
  for (size_t i = 1; i + 1 < n; ++i) bpo[i] = 2 / (logf[i + 1] - logf[i - 1]);
  for (size_t i = 0; i < n; ++i) {
    const double r = std::pow(2.0, 2 / bpo[i]);
    alpha[i] = (r - 1) / (r + 1);
  }
  return alpha;
}

// wavelet_lengths with filter_scale 1, gamma 0: Q * sr / f with Q = 1 / alpha.
double wavelet_length(double freq, double alpha, double sr) { return (1.0 / alpha) * sr / freq; }

// scipy.signal.get_window("hann", n) (periodic): 0.5 + 0.5 cos(linspace(-pi, pi, n + 1)).
std::vector<double> scipy_hann(int64_t n) {
  std::vector<double> w(static_cast<size_t>(n));
  const double step = 2 * std::numbers::pi / double(n);
  for (int64_t i = 0; i < n; ++i)
    w[size_t(i)] = 0.5 + 0.5 * std::cos(double(i) * step + -std::numbers::pi);
  return w;
}

// Row i of util.sparsify_rows(fft_basis, quantile=0.01): keep the entries at least as large
// as the smallest one whose cumulative normalised magnitude (ascending) reaches the quantile.
void append_sparse_row(const std::vector<std::complex<float>>& row, double scale,
                       SparseBasis& basis) {
  std::vector<float> magnitude(row.size());
  double norm = 0.0;
  for (size_t j = 0; j < row.size(); ++j) {
    magnitude[j] = std::abs(row[j]);
    norm += magnitude[j];
  }
  std::vector<float> sorted = magnitude;
  std::sort(sorted.begin(), sorted.end());
  const float norm_f = float(norm);
  float cumulative = 0.0f;
  size_t threshold_index = 0;  // np.argmin of an all-True mask is 0
  for (size_t j = 0; j < sorted.size(); ++j) {
    cumulative += sorted[j] / norm_f;  // np.cumsum(mag_sort / norms) in float32
    if (!(cumulative < kSparsity)) {
      threshold_index = j;
      break;
    }
  }
  const float threshold = sorted[threshold_index];
  for (size_t j = 0; j < row.size(); ++j) {
    if (magnitude[j] < threshold) continue;
    basis.column.push_back(int32_t(j));
    // fft_basis[:] *= np.sqrt(sr / my_sr): complex64 scaled by a float64, kept complex64.
    basis.value.push_back(
        {float(double(row[j].real()) * scale), float(double(row[j].imag()) * scale)});
  }
  basis.row_start.push_back(basis.column.size());
}

// __vqt_filter_fft for one octave: filters.wavelet (Hann window, L1 norm, pad_fft), the
// length / n_fft re-normalisation, the FFT's non-negative half, sparsify_rows, and vqt's
// sqrt(sr / octave_sr) rescaling.
SparseBasis octave_basis(const std::vector<double>& freqs, const std::vector<double>& alpha,
                         double octave_sr, double rescale) {
  std::vector<double> lengths(freqs.size());
  for (size_t k = 0; k < freqs.size(); ++k)
    lengths[k] = wavelet_length(freqs[k], alpha[k], octave_sr);
  const double max_length = *std::max_element(lengths.begin(), lengths.end());
  SparseBasis basis;
  basis.n_fft = int64_t(std::pow(2.0, std::ceil(std::log2(max_length))));
  const int64_t n_fft = basis.n_fft;
  basis.row_start.push_back(0);
  std::vector<std::complex<double>> padded(static_cast<size_t>(n_fft));
  std::vector<std::complex<float>> half(static_cast<size_t>(n_fft / 2 + 1));
  for (size_t k = 0; k < freqs.size(); ++k) {
    // sig = phasor(np.arange(-ilen // 2, ilen // 2, dtype=float) * 2 * np.pi * freq / sr)
    const double ilen = lengths[k];
    const double start = std::floor(-ilen / 2), stop = std::floor(ilen / 2);
    const int64_t count = int64_t(stop - start);
    const std::vector<double> window = scipy_hann(count);
    std::vector<std::complex<double>> sig(static_cast<size_t>(count));
    double l1 = 0.0;
    for (int64_t j = 0; j < count; ++j) {
      const double angle = (start + double(j)) * 2 * std::numbers::pi * freqs[k] / octave_sr;
      sig[size_t(j)] = std::complex<double>(std::cos(angle), std::sin(angle)) * window[size_t(j)];
      l1 += std::abs(sig[size_t(j)]);
    }
    // util.normalize(sig, norm=1), util.pad_center to n_fft, np.asarray(dtype=complex64), then
    // basis *= lengths / n_fft in complex64.
    std::fill(padded.begin(), padded.end(), std::complex<double>(0.0, 0.0));
    const int64_t left = (n_fft - count) / 2;
    const double renorm = lengths[k] / double(n_fft);
    for (int64_t j = 0; j < count; ++j) {
      const std::complex<double> v = sig[size_t(j)] / l1;
      const float re = float(v.real()), im = float(v.imag());
      padded[size_t(left + j)] = {double(float(double(re) * renorm)),
                                  double(float(double(im) * renorm))};
    }
    // fft.fft(basis, n=n_fft)[:, :n_fft // 2 + 1]: numpy 2 transforms complex64 in single
    // precision; here in double, rounded to complex64 (differences ~1e-7 relative).
    const std::vector<std::complex<double>> spectrum = complex_fft(padded);
    for (size_t j = 0; j < half.size(); ++j)
      half[j] = {float(spectrum[j].real()), float(spectrum[j].imag())};
    append_sparse_row(half, rescale, basis);
  }
  return basis;
}

// The sparse basis laid out for the product: each row's kept entries form one dense band of
// columns (entries sparsify_rows dropped inside the band are zeros, contributing nothing),
// split into real and imaginary parts and padded with zeros to a multiple of kLanes, so that
// the product's inner loop runs on kLanes independent partial sums and vectorises. (scipy
// sums each row left to right; the partial sums differ from that by float32 rounding.)
constexpr size_t kLanes = 8;

struct BandedBasis {
  std::vector<size_t> first_column, offset;  // [rows], [rows + 1] into re / im
  std::vector<float> re, im;
  size_t columns_needed = 0;  // one past the last column any padded band reads
};

BandedBasis banded(const SparseBasis& sparse) {
  BandedBasis b;
  b.offset.push_back(0);
  for (int64_t r = 0; r < sparse.rows(); ++r) {
    const size_t begin = sparse.row_start[size_t(r)], end = sparse.row_start[size_t(r) + 1];
    if (begin == end) throw std::logic_error("cqt: a filter's sparse FFT row is empty");
    const size_t first = size_t(sparse.column[begin]), last = size_t(sparse.column[end - 1]);
    const size_t width = (last - first + 1 + kLanes - 1) / kLanes * kLanes;
    b.first_column.push_back(first);
    b.re.resize(b.offset.back() + width, 0.0f);
    b.im.resize(b.offset.back() + width, 0.0f);
    for (size_t e = begin; e < end; ++e) {
      b.re[b.offset.back() + size_t(sparse.column[e]) - first] = sparse.value[e].real();
      b.im[b.offset.back() + size_t(sparse.column[e]) - first] = sparse.value[e].imag();
    }
    b.columns_needed = std::max(b.columns_needed, first + width);
    b.offset.push_back(b.offset.back() + width);
  }
  return b;
}

// __cqt_response: the sparse basis times the all-ones-window centred STFT of y (complex64,
// as librosa.stft stores it), frame by frame, then |response| / sqrt(full_length) (vqt's
// scale and np.abs, in complex64 / float32), [rows, frames] row-major (written through a small
// frame-major block, transposed on flush).
std::vector<float> octave_response(std::span<const float> y, int64_t hop, const SparseBasis& sparse,
                                   const std::vector<double>& sqrt_lengths, int64_t& frames_out) {
  const BandedBasis basis = banded(sparse);
  CenteredFrames frames(y, sparse.n_fft, hop);
  const int64_t rows = sparse.rows(), frame_count = frames.frames(), out_frames = frame_count;
  frames_out = frame_count;
  std::vector<float> result(static_cast<size_t>(rows * frame_count));
  float* out = result.data();
  const size_t first_needed =
      *std::min_element(basis.first_column.begin(), basis.first_column.end());
  const size_t last_bin = std::min(basis.columns_needed, size_t(frames.bins()));
  std::vector<float> column_re(std::max(basis.columns_needed, size_t(frames.bins())), 0.0f);
  std::vector<float> column_im(column_re.size(), 0.0f);
  std::vector<float> sum_re(static_cast<size_t>(rows)), sum_im(static_cast<size_t>(rows));
  constexpr int64_t kBlock = 256;  // frames per block of the cache-friendly transpose
  std::vector<float> block(static_cast<size_t>(kBlock * rows));  // [kBlock, rows]
  for (int64_t t0 = 0; t0 < frame_count; t0 += kBlock) {
    const int64_t t1 = std::min(frame_count, t0 + kBlock);
    for (int64_t t = t0; t < t1; ++t) {
      const auto spectrum = frames.transform(t, {});
      for (size_t f = first_needed; f < last_bin; ++f) {
        column_re[f] = float(spectrum[f].real());
        column_im[f] = float(spectrum[f].imag());
      }
      for (int64_t r = 0; r < rows; ++r) {
        const size_t width = basis.offset[size_t(r) + 1] - basis.offset[size_t(r)];
        const float* a_re = basis.re.data() + basis.offset[size_t(r)];
        const float* a_im = basis.im.data() + basis.offset[size_t(r)];
        const float* x_re = column_re.data() + basis.first_column[size_t(r)];
        const float* x_im = column_im.data() + basis.first_column[size_t(r)];
        float lane_re[kLanes] = {}, lane_im[kLanes] = {};
        for (size_t j = 0; j < width; j += kLanes)
          for (size_t l = 0; l < kLanes; ++l) {
            lane_re[l] += a_re[j + l] * x_re[j + l] - a_im[j + l] * x_im[j + l];
            lane_im[l] += a_re[j + l] * x_im[j + l] + a_im[j + l] * x_re[j + l];
          }
        float re = 0.0f, im = 0.0f;
        for (size_t l = 0; l < kLanes; ++l) {
          re += lane_re[l];
          im += lane_im[l];
        }
        sum_re[size_t(r)] = re;
        sum_im[size_t(r)] = im;
      }
      float* __restrict frame_out = block.data() + (t - t0) * rows;
      const float* __restrict s_re = sum_re.data();
      const float* __restrict s_im = sum_im.data();
      const double* __restrict s_len = sqrt_lengths.data();
      for (int64_t r = 0; r < rows; ++r) {
        const float re = float(double(s_re[r]) / s_len[r]);
        const float im = float(double(s_im[r]) / s_len[r]);
        frame_out[r] = complex64_abs(re, im);
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = t0; t < t1; ++t)
        out[r * out_frames + t] = block[size_t((t - t0) * rows + r)];
  }
  return result;
}

int two_factors(int64_t x) {
  int count = 0;
  while (x > 0 && x % 2 == 0) {
    ++count;
    x /= 2;
  }
  return count;
}

}  // namespace

double note_c1_hz() { return 440.0 * std::pow(2.0, (24.0 - 69.0) / 12.0); }

double cqt_octaves(std::span<const float> y, double sr, const CqtOptions& o,
                   const std::function<void(const CqtOctave&)>& sink) {
  if (!(sr > 0)) throw std::invalid_argument("cqt: sample rate must be positive");
  if (o.hop < 1 || o.n_bins < 2 || o.bins_per_octave < 1)
    throw std::invalid_argument("cqt: hop " + std::to_string(o.hop) + ", n_bins " +
                                std::to_string(o.n_bins) + " and bins_per_octave " +
                                std::to_string(o.bins_per_octave) +
                                " must be positive (n_bins >= 2)");
  const int64_t bpo = o.bins_per_octave;
  const int64_t n_octaves = (o.n_bins + bpo - 1) / bpo;
  const int64_t n_filters = std::min(bpo, o.n_bins);
  const double tuning = o.tuning ? *o.tuning : estimate_tuning(y, sr, o.bins_per_octave);
  // fmin = fmin * 2.0 ** (tuning / bins_per_octave); freqs = interval_frequencies("equal").
  const double fmin = (o.fmin > 0 ? o.fmin : note_c1_hz()) * std::pow(2.0, tuning / double(bpo));
  std::vector<double> freqs(static_cast<size_t>(o.n_bins));
  for (int64_t i = 0; i < o.n_bins; ++i)
    freqs[size_t(i)] = std::pow(2.0, double(i / bpo)) *
                       std::pow(2.0, (0.0 + double(i % bpo)) / double(bpo)) * fmin;
  const std::vector<double> alpha = relative_bandwidth(freqs);
  // wavelet_lengths' f_cutoff: the highest frequency any filter reaches.
  double cutoff = 0.0;
  for (size_t k = 0; k < freqs.size(); ++k)
    cutoff = std::max(cutoff, freqs[k] * (1 + 0.5 * kHannBandwidth / (1.0 / alpha[k])));
  const double nyquist = sr / 2.0;
  if (cutoff > nyquist)
    throw std::invalid_argument("cqt: filters up to " + std::to_string(cutoff) +
                                " Hz exceed the Nyquist frequency " + std::to_string(nyquist) +
                                " Hz of a " + std::to_string(sr) + " Hz signal");

  // __early_downsample: halve the rate up front while the top octave stays far below Nyquist.
  // The octave's signal: y itself until the first downsampling (no copy), then `resampled`.
  std::span<const float> signal = y;
  std::vector<float> resampled;
  double base_sr = sr;
  int64_t hop = o.hop;
  const int count1 = std::max(0, int(std::ceil(std::log2(nyquist / cutoff)) - 1) - 1);
  const int count2 = std::max<int>(0, two_factors(hop) - int(n_octaves) + 1);
  const int downsample = std::min(count1, count2);
  if (downsample > 0) {
    const int64_t factor = int64_t(1) << downsample;
    hop /= factor;
    if (int64_t(signal.size()) < factor)
      throw std::invalid_argument("cqt: a signal of " + std::to_string(signal.size()) +
                                  " samples is too short for a " + std::to_string(n_octaves) +
                                  "-octave CQT");
    resampled = resample(signal, double(factor), 1.0, /*scale=*/true);
    signal = resampled;
    base_sr = sr / double(factor);
  }

  // vqt's final V /= sqrt(lengths) uses the lengths at the (early-downsampled) base rate.
  std::vector<double> sqrt_lengths(freqs.size());
  for (size_t k = 0; k < freqs.size(); ++k)
    sqrt_lengths[k] = std::sqrt(wavelet_length(freqs[k], alpha[k], base_sr));

  double octave_sr = base_sr;
  for (int64_t i = 0; i < n_octaves; ++i) {
    const int64_t hi = o.n_bins - n_filters * i;
    const int64_t lo = std::max<int64_t>(0, o.n_bins - n_filters * (i + 1));
    const std::vector<double> f(freqs.begin() + lo, freqs.begin() + hi);
    const std::vector<double> a(alpha.begin() + lo, alpha.begin() + hi);
    const std::vector<double> s(sqrt_lengths.begin() + lo, sqrt_lengths.begin() + hi);
    const SparseBasis basis = octave_basis(f, a, octave_sr, std::sqrt(base_sr / octave_sr));
    int64_t frames = 0;
    const std::vector<float> response = octave_response(signal, hop, basis, s, frames);
    sink(CqtOctave{lo, hi - lo, frames, response});
    if (hop % 2 == 0 && i + 1 < n_octaves) {
      hop /= 2;
      octave_sr /= 2.0;
      resampled = resample(signal, 2.0, 1.0, /*scale=*/true);
      signal = resampled;
    }
  }
  return tuning;
}

CqtMagnitude cqt_magnitude(std::span<const float> y, double sr, const CqtOptions& options) {
  // __trim_stack: each octave's rows go to its bins; frames = the fewest any octave has (the
  // first octave's with even hops), so a later, shorter octave compacts the rows so far.
  CqtMagnitude result;
  result.bins = options.n_bins;
  bool first = true;
  result.tuning = cqt_octaves(y, sr, options, [&](const CqtOctave& octave) {
    if (first) {
      result.frames = octave.frames;
      result.values.assign(size_t(result.bins * result.frames), 0.0f);
      first = false;
    }
    if (octave.frames < result.frames) {
      for (int64_t r = 0; r < result.bins; ++r)
        std::copy_n(result.values.begin() + r * result.frames, octave.frames,
                    result.values.begin() + r * octave.frames);
      result.frames = octave.frames;
      result.values.resize(size_t(result.bins * result.frames));
    }
    for (int64_t r = 0; r < octave.rows; ++r)
      std::copy_n(octave.values.begin() + r * octave.frames, result.frames,
                  result.values.begin() + (octave.first_bin + r) * result.frames);
  });
  return result;
}

}  // namespace melgrad::audio
