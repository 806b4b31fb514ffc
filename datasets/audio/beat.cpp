// Tempo estimation and the dynamic-programming beat tracker of librosa 0.11.0: see beat.h.
// Each step follows librosa's numba kernels (beat.py) line by line, including their
// precision: the envelope is normalised in float32 and scored in float64, as numba's
// dispatch does for a float32 envelope with float64 frames-per-beat.
#include "datasets/audio/beat.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "datasets/audio/fftw_plans.h"
#include "datasets/audio/hpss.h"
#include "datasets/audio/onset.h"

namespace melgrad::audio {
namespace {

constexpr int64_t kHop = 512;
constexpr double kStartBpm = 120.0, kMaxTempo = 320.0, kTightness = 100.0;

// Mean over frames of the max-normalised autocorrelation tempogram (librosa.feature.tempogram
// with win_length, centre=True, Hann window, norm=inf; then np.mean over time): [win_length].
std::vector<double> mean_tempogram(std::span<const float> envelope, int64_t win_length) {
  const int64_t n = int64_t(envelope.size());
  const int64_t half = win_length / 2;
  // np.pad(envelope, half, mode="linear_ramp", end_values=0)
  std::vector<double> padded(static_cast<size_t>(n + 2 * half));
  const double first = envelope.front(), last = envelope.back();
  for (int64_t i = 0; i < half; ++i) {
    padded[size_t(i)] = float(first * double(i) / double(half));
    padded[size_t(n + 2 * half - 1 - i)] = float(last * double(i) / double(half));
  }
  for (int64_t i = 0; i < n; ++i) padded[size_t(half + i)] = envelope[size_t(i)];
  const std::vector<double> window = hann_window(win_length);

  const int64_t fft_size = 2 * win_length;  // >= 2 win_length - 1: linear, not circular
  const int64_t bins = fft_size / 2 + 1;
  double* frame = fftw_alloc_real(size_t(fft_size));
  fftw_complex* spectrum = fftw_alloc_complex(size_t(bins));
  if (!frame || !spectrum) throw std::bad_alloc();
  fftw_plan forward = real_forward_plan(fft_size), inverse = real_inverse_plan(fft_size);
  std::vector<double> sum(size_t(win_length), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < win_length; ++i) frame[i] = padded[size_t(t + i)] * window[size_t(i)];
    std::fill(frame + win_length, frame + fft_size, 0.0);
    fftw_execute_dft_r2c(forward, frame, spectrum);
    for (int64_t k = 0; k < bins; ++k) {
      spectrum[k][0] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
      spectrum[k][1] = 0.0;
    }
    fftw_execute_dft_c2r(inverse, spectrum, frame);  // frame[lag] = fft_size * autocorrelation[lag]
    double peak = 0.0;
    for (int64_t lag = 0; lag < win_length; ++lag) peak = std::max(peak, std::abs(frame[lag]));
    const double scale =
        peak < std::numeric_limits<double>::min() ? 1.0 / double(fft_size) : 1.0 / peak;
    for (int64_t lag = 0; lag < win_length; ++lag) sum[size_t(lag)] += frame[lag] * scale;
  }
  fftw_free(frame);
  fftw_free(spectrum);
  for (double& v : sum) v /= double(n);
  return sum;
}

// librosa.beat.__beat_local_score (static tempo): a "same" convolution with a Gaussian whose
// loop bound min(i + K/2, K) leaves out the envelope's first sample.
std::vector<double> local_score(std::span<const float> normalized, double frames_per_beat) {
  const int64_t n = int64_t(normalized.size());
  const int64_t taps = 2 * int64_t(frames_per_beat) + 1;
  std::vector<double> window(static_cast<size_t>(taps));
  for (int64_t k = 0; k < taps; ++k) {
    const double x = (double(k) - frames_per_beat) * 32.0 / frames_per_beat;
    window[size_t(k)] = std::exp(-0.5 * (x * x));
  }
  std::vector<double> score(size_t(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double acc = 0.0;
    const int64_t k_end = std::min(i + taps / 2, taps);
    for (int64_t k = std::max<int64_t>(0, i + taps / 2 - n + 1); k < k_end; ++k)
      acc += window[size_t(k)] * double(normalized[size_t(i + taps / 2 - k)]);
    score[size_t(i)] = acc;
  }
  return score;
}

// librosa.beat.__beat_track_dp: backlinks and cumulative scores.
void beat_dp(const std::vector<double>& score, double frames_per_beat,
             std::vector<int64_t>& backlink, std::vector<double>& cumulative) {
  const int64_t n = int64_t(score.size());
  backlink.assign(size_t(n), -1);
  cumulative.assign(size_t(n), 0.0);
  const double threshold = 0.01 * *std::max_element(score.begin(), score.end());
  const double log_period = std::log(frames_per_beat);
  const int64_t nearest = int64_t(std::nearbyint(frames_per_beat / 2.0));  // np.round: half to even
  const int64_t farthest = int64_t(2.0 * frames_per_beat);
  bool first_beat = true;
  for (int64_t i = 0; i < n; ++i) {
    double best = -std::numeric_limits<double>::infinity();
    int64_t best_loc = -1;
    for (int64_t loc = i - nearest; loc >= i - farthest; --loc) {
      if (loc < 0) break;
      const double d = std::log(double(i - loc)) - log_period;
      const double candidate = cumulative[size_t(loc)] - kTightness * (d * d);
      if (candidate > best) {
        best = candidate;
        best_loc = loc;
      }
    }
    cumulative[size_t(i)] = best_loc >= 0 ? score[size_t(i)] + best : score[size_t(i)];
    if (first_beat && score[size_t(i)] < threshold) {
      backlink[size_t(i)] = -1;
    } else {
      backlink[size_t(i)] = best_loc;
      first_beat = false;
    }
  }
}

// librosa.beat.__last_beat: the last local maximum of the cumulative score that reaches
// half the median of all local maxima (numba's stencil: never at 0; the end compares with
// its left neighbour only).
int64_t last_beat(const std::vector<double>& cumulative) {
  const int64_t n = int64_t(cumulative.size());
  std::vector<bool> is_max(size_t(n), false);
  std::vector<double> maxima;
  for (int64_t i = 1; i < n; ++i) {
    const bool peak = i == n - 1 ? cumulative[size_t(i)] > cumulative[size_t(i - 1)]
                                 : cumulative[size_t(i)] > cumulative[size_t(i - 1)] &&
                                       cumulative[size_t(i)] >= cumulative[size_t(i + 1)];
    if (peak) {
      is_max[size_t(i)] = true;
      maxima.push_back(cumulative[size_t(i)]);
    }
  }
  double median = 0.0;
  if (!maxima.empty()) {
    std::sort(maxima.begin(), maxima.end());
    const size_t m = maxima.size();
    median = m % 2 ? maxima[m / 2] : (maxima[m / 2 - 1] + maxima[m / 2]) / 2.0;
  }
  const double threshold = 0.5 * median;
  for (int64_t i = n - 1; i >= 0; --i)
    if (is_max[size_t(i)] && cumulative[size_t(i)] >= threshold) return i;
  return n - 1;
}

// librosa.beat.__trim_beats with trim=True: threshold = half the RMS of the beats' local
// scores smoothed by np.hanning(5); librosa's slice [2 : len(localscore) + 2] of the full
// convolution keeps two tail samples, so the mean runs over (beats + 2) values.
void trim_beats(const std::vector<double>& score, std::vector<bool>& beats) {
  std::vector<double> values;
  for (size_t i = 0; i < beats.size(); ++i)
    if (beats[i]) values.push_back(score[i]);
  if (values.empty()) return;
  const double hann5[5] = {0.0, 0.5, 1.0, 0.5, 0.0};
  const int64_t m = int64_t(values.size()), full = m + 4;
  const int64_t begin = 2, end = std::min<int64_t>(full, int64_t(score.size()) + 2);
  double sum_squares = 0.0;
  for (int64_t j = begin; j < end; ++j) {
    double c = 0.0;
    for (int64_t k = 0; k < 5; ++k)
      if (j - k >= 0 && j - k < m) c += hann5[k] * values[size_t(j - k)];
    sum_squares += c * c;
  }
  const double threshold = 0.5 * std::sqrt(sum_squares / double(end - begin));
  const int64_t n = int64_t(score.size());
  for (int64_t i = 0; i < n && score[size_t(i)] <= threshold; ++i) beats[size_t(i)] = false;
  for (int64_t i = n - 1; i >= 0 && score[size_t(i)] <= threshold; --i) beats[size_t(i)] = false;
}

}  // namespace

double estimate_tempo(std::span<const float> envelope, double sr) {
  if (envelope.empty()) throw std::invalid_argument("tempo: empty onset envelope");
  const int64_t win_length = int64_t(8.0 * sr) / kHop;  // time_to_frames(ac_size = 8 s)
  if (win_length < 2)
    throw std::invalid_argument("tempo: sample rate " + std::to_string(sr) + " too low");
  const std::vector<double> tg = mean_tempogram(envelope, win_length);
  int64_t best = -1;
  double best_value = -std::numeric_limits<double>::infinity();
  for (int64_t lag = 1; lag < win_length; ++lag) {
    const double bpm = 60.0 * sr / (double(kHop) * double(lag));
    if (bpm >= kMaxTempo && best < 0) continue;  // logprior[:argmax(bpms < 320)] = -inf
    const double z = std::log2(bpm) - std::log2(kStartBpm);
    const double value = std::log1p(1e6 * tg[size_t(lag)]) + -0.5 * (z * z);
    if (best < 0 || value > best_value) {
      best = lag;
      best_value = value;
    }
  }
  if (best < 0) throw std::invalid_argument("tempo: no lag below 320 BPM");
  return 60.0 * sr / (double(kHop) * double(best));
}

std::vector<int64_t> track_beats(std::span<const float> envelope, double sr, double bpm) {
  if (!(bpm > 0))
    throw std::invalid_argument("beat tracker: bpm must be positive, got " + std::to_string(bpm));
  const int64_t n = int64_t(envelope.size());
  if (n < 2) throw std::invalid_argument("beat tracker: onset envelope needs at least 2 frames");
  const double frames_per_beat = std::nearbyint(sr / double(kHop) * 60.0 / bpm);
  // __normalize_onsets: divide by the sample standard deviation (float32 as numpy).
  double mean = 0.0;
  for (float v : envelope) mean += v;
  mean /= double(n);
  double squares = 0.0;
  for (float v : envelope) squares += (v - mean) * (v - mean);
  const float deviation = float(std::sqrt(squares / double(n - 1)));
  std::vector<float> normalized(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    normalized[size_t(i)] = envelope[size_t(i)] / (deviation + FLT_MIN);

  const std::vector<double> score = local_score(normalized, frames_per_beat);
  std::vector<int64_t> backlink;
  std::vector<double> cumulative;
  beat_dp(score, frames_per_beat, backlink, cumulative);
  std::vector<bool> beats(size_t(n), false);
  for (int64_t i = last_beat(cumulative); i >= 0; i = backlink[size_t(i)]) beats[size_t(i)] = true;
  trim_beats(score, beats);
  std::vector<int64_t> frames;
  for (int64_t i = 0; i < n; ++i)
    if (beats[size_t(i)]) frames.push_back(i);
  return frames;
}

BeatResult beat_track_percussive(std::span<const float> y, double sr, int threads,
                                 const MagnitudeTap& tap) {
  const std::vector<float> y_percussive = percussive(y, threads, tap);
  const std::vector<float> envelope = onset_strength_median(y_percussive, sr);
  BeatResult result;
  if (std::none_of(envelope.begin(), envelope.end(), [](float v) { return v != 0.0f; }))
    return result;
  result.tempo = estimate_tempo(envelope, sr);
  result.beat_frames = track_beats(envelope, sr, result.tempo);
  return result;
}

}  // namespace melgrad::audio
