// Known-answer tests of the beat pipeline's parts: the reflect-mode median filter against a
// brute-force one, ISTFT(STFT(y)) == y, the mel filterbank's shape, a click track's tempo and
// beats, and librosa.util.sync's median on arrays worked out by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "datasets/audio/beat.h"
#include "datasets/audio/hpss.h"
#include "datasets/audio/istft.h"
#include "datasets/audio/mel.h"
#include "datasets/audio/onset.h"
#include "datasets/audio/stft.h"
#include "datasets/audio/sync.h"
#include "datasets/npy.h"
#include "tests/audio/beat_test_util.h"

using namespace melgrad::audio;
using melgrad::data::NpyArray;
using melgrad::data::read_npy;

namespace {

// scipy.ndimage.median_filter(mode="reflect") along one line, by sorting every window.
std::vector<float> brute_median(const std::vector<float>& line, int64_t size) {
  const int64_t n = int64_t(line.size()), half = size / 2;
  auto at = [&](int64_t i) {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return line[size_t(i)];
  };
  std::vector<float> out(static_cast<size_t>(n)), window(static_cast<size_t>(size));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < size; ++k) window[size_t(k)] = at(i - half + k);
    std::sort(window.begin(), window.end());
    out[size_t(i)] = window[size_t(half)];
  }
  return out;
}

// Clicks (5 ms bursts of decaying noise) every `period` seconds from 0.25 s on.
std::vector<float> click_track(double sr, double seconds, double period) {
  std::vector<float> y(size_t(sr * seconds), 0.0f);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(-1.0f, 1.0f);
  for (double t = 0.25; t < seconds; t += period) {
    const int64_t start = int64_t(std::llround(t * sr));
    for (int64_t i = 0; i < int64_t(0.005 * sr) && start + i < int64_t(y.size()); ++i)
      y[size_t(start + i)] = 0.8f * noise(rng) * std::exp(-double(i) / (0.001 * sr));
  }
  return y;
}

}  // namespace

TEST_CASE(
    "median_filter_reflect: equals a brute-force reflect-mode median (scipy mode=\"reflect\"), "
    "both axes") {
  // Hand case: [1 5 2 8 3], size 3, reflect -> padded [1 | 1 5 2 8 3 | 3].
  const std::vector<float> hand = {1, 5, 2, 8, 3};
  CHECK(median_filter_reflect(hand, 1, 5, 3, 1) == std::vector<float>{1, 2, 5, 3, 3});
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> level(0, 9);  // many ties
  // rows 3 and 37: one partial group of 16 SIMD lanes, and two full groups plus a partial one.
  for (int64_t cols : {1, 2, 7, 15, 31, 40, 300})
    for (int64_t rows : {3, 37}) {
      for (int64_t size : {1, 3, 5, 31}) {
        std::vector<float> x(static_cast<size_t>(rows * cols));
        for (float& v : x) v = float(level(rng)) * 0.5f;
        const std::vector<float> along_rows = median_filter_reflect(x, rows, cols, size, 1, 2);
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<float> line(x.begin() + r * cols, x.begin() + (r + 1) * cols);
          const std::vector<float> expected = brute_median(line, size);
          CHECK(std::equal(expected.begin(), expected.end(), along_rows.begin() + r * cols));
        }
        // axis 0 on the transpose equals axis 1 on the original
        std::vector<float> transposed(x.size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            transposed[size_t(c * rows + r)] = x[size_t(r * cols + c)];
        const std::vector<float> along_columns =
            median_filter_reflect(transposed, cols, rows, size, 0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            CHECK(along_columns[size_t(c * rows + r)] == along_rows[size_t(r * cols + c)]);
      }
    }
  CHECK_THROWS_AS(median_filter_reflect(hand, 1, 5, 4, 1), std::invalid_argument);
}

TEST_CASE("istft inverts stft (Hann, hop n_fft/4, centred) to float32 rounding") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (int64_t n : {2048, 5000, 22050}) {
    std::vector<float> y(static_cast<size_t>(n));
    for (float& v : y) v = normal(rng);
    const Spectrum s = stft(y, {.n_fft = 2048, .hop = 512});
    const std::vector<float> back = istft(s, 512, n);
    REQUIRE(back.size() == y.size());
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      worst = std::max(worst, double(std::abs(back[size_t(i)] - y[size_t(i)])));
    CHECK(worst < 1e-5);  // float32 spectrum (~1e-7 relative) through a sum of 4 frames
  }
}

TEST_CASE("stft_frames: blocks of columns equal the whole centred STFT's, bit for bit") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> y(30000);
  for (float& v : y) v = normal(rng);
  const Spectrum whole = stft(y, {.n_fft = 2048, .hop = 512});
  REQUIRE(whole.frames == stft_frame_count(30000, {.n_fft = 2048, .hop = 512}));
  for (auto [first, count] : {std::pair<int64_t, int64_t>{0, 1}, {0, 59}, {3, 10}, {50, 9}}) {
    const Spectrum block = stft_frames(y, {.n_fft = 2048, .hop = 512}, first, count);
    REQUIRE(block.frames == count);
    bool same = true;
    for (int64_t f = 0; f < whole.bins; ++f)
      for (int64_t t = 0; t < count; ++t) same = same && block.at(f, t) == whole.at(f, first + t);
    CHECK(same);
  }
  CHECK_THROWS_AS(stft_frames(y, {.n_fft = 2048, .hop = 512}, 55, 5), std::invalid_argument);
}

TEST_CASE("percussive (streamed in blocks of frames) equals istft(keep_percussive(stft(y)))") {
  // 40 000 samples = 79 frames; 700 000 samples = 1368 frames: several 256-frame blocks, so
  // the harmonic median reads across block edges. The reference holds the whole spectrogram.
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  for (int64_t n : {3000, 40000, 700000}) {
    std::vector<float> y(static_cast<size_t>(n));
    for (float& v : y) v = normal(rng);
    for (int64_t i = 0; i < n; i += 4000) y[size_t(i)] += 3.0f;  // clicks, so P is not ~H
    Spectrum whole = stft(y, {.n_fft = 2048, .hop = 512});
    keep_percussive(whole);
    const std::vector<float> expected = istft(whole, 512, n);
    const std::vector<float> streamed = percussive(y, 2);
    REQUIRE(streamed.size() == expected.size());
    double worst = 0;
    for (size_t i = 0; i < expected.size(); ++i)
      worst = std::max(worst, double(std::abs(streamed[i] - expected[i])));
    CHECK(worst < 1e-6);  // same spectra; float32 vs double overlap-add
  }
}

TEST_CASE(
    "mel_filterbank (shared with the onset envelope) equals librosa.filters.mel(sr=22050, "
    "n_fft=2048) to 1 ulp") {
  const NpyArray expected =
      read_npy(std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/audio/beat/mel_basis.npy.gz");
  REQUIRE(expected.shape == std::vector<int64_t>{128, 1025});
  const std::vector<float> w = mel_filterbank(22050, 2048, 128, 0.0, 11025.0);
  REQUIRE(w.size() == expected.data.size());
  double worst = 0;  // relative to the largest weight; the formula runs in double both sides
  for (size_t i = 0; i < w.size(); ++i)
    worst = std::max(worst, double(std::abs(w[i] - expected.data[i])));
  CHECK(worst <= 1e-7 * *std::max_element(expected.data.begin(), expected.data.end()));
}

TEST_CASE(
    "beat_track_percussive: a 120 BPM click track at 22528 Hz gives 120 BPM, beats 0.5 s apart") {
  // 120 BPM is a tempogram lag of exactly 22 frames at sr = 22528 (60 sr / (512 * 22) = 120).
  const double sr = 22528;
  const std::vector<float> y = click_track(sr, 30.0, 0.5);
  const BeatResult r = beat_track_percussive(y, sr);
  CHECK(r.tempo == doctest::Approx(120.0).epsilon(0.01));
  REQUIRE(r.beat_frames.size() >= 50);
  std::vector<double> clicks, beats;
  for (double t = 0.25; t < 30.0; t += 0.5) clicks.push_back(t);
  for (int64_t f : r.beat_frames) beats.push_back(double(f) * 512.0 / sr);
  for (size_t i = 1; i < beats.size(); ++i) CHECK(std::abs(beats[i] - beats[i - 1] - 0.5) < 0.024);
  CHECK(melgrad::test::beat_f_measure(clicks, beats) >= 0.95);
}

TEST_CASE(
    "beat_track_percussive: 120 BPM clicks at 22050 Hz land on the clicks; silence has no beats") {
  // At 22050 Hz the tempogram's lags give 117.45 or 123.05 BPM, never 120: the estimate is the
  // nearer, 117.45 (lag 22), and the tracker still follows the clicks within +-70 ms.
  const std::vector<float> y = click_track(22050, 30.0, 0.5);
  const BeatResult r = beat_track_percussive(y, 22050);
  CHECK(r.tempo == doctest::Approx(60.0 * 22050 / (512 * 22)));
  std::vector<double> clicks, beats;
  for (double t = 0.25; t < 30.0; t += 0.5) clicks.push_back(t);
  for (int64_t f : r.beat_frames) beats.push_back(double(f) * 512.0 / 22050);
  CHECK(melgrad::test::beat_f_measure(clicks, beats) >= 0.95);

  const std::vector<float> silence(22050 * 5, 0.0f);
  const BeatResult none = beat_track_percussive(silence, 22050);
  CHECK(none.tempo == 0.0);
  CHECK(none.beat_frames.empty());
}

TEST_CASE("sync_median: librosa.util.sync(..., aggregate=np.median) by hand") {
  // frames 6, beats {2, 4} -> boundaries {0, 2, 4, 6}; even segments take the middle mean.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6,  //
                                6, 5, 4, 3, 2, 1};
  const std::vector<int64_t> beats = {2, 4};
  CHECK(sync_median(x, 2, 6, beats) == std::vector<float>{1.5f, 3.5f, 5.5f, 5.5f, 3.5f, 1.5f});
  // Duplicates and beats past the end are folded as fix_frames does: {3, 3, 10} -> {0, 3, 6}.
  const std::vector<int64_t> messy = {3, 3, 10};
  CHECK(sync_boundaries(messy, 6) == std::vector<int64_t>{0, 3, 6});
  CHECK(sync_median(x, 2, 6, messy) == std::vector<float>{2, 5, 5, 2});
  // Odd segment: the middle value itself, not a mean.
  const std::vector<float> odd = {9, 1, 5};
  const std::vector<int64_t> no_beats;
  CHECK(sync_median(odd, 1, 3, no_beats) == std::vector<float>{5});
  const std::vector<int64_t> negative = {-1};
  CHECK_THROWS_AS(sync_median(odd, 1, 3, negative), std::invalid_argument);
  CHECK_THROWS_AS(sync_median(odd, 2, 3, no_beats), std::invalid_argument);
}
TEST_CASE(
    "estimate_tempo and track_beats equal librosa.beat.beat_track on 24 synthetic envelopes") {
  // Pulse trains with fades, noise and silent tails (make_beat_fixtures.py, make_tracker_cases):
  // the tracker is deterministic given the envelope, so tempo and every beat frame must agree.
  const std::string dir = std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/audio/beat/";
  const NpyArray envelopes = read_npy(dir + "tracker_envelopes.npy.gz");
  const NpyArray answers = read_npy(dir + "tracker_answers.npy.gz");
  REQUIRE(envelopes.shape.size() == 2);
  const int64_t cases = envelopes.shape[0], frames = envelopes.shape[1];
  size_t at = 0;
  for (int64_t c = 0; c < cases; ++c) {
    CAPTURE(c);
    REQUIRE(at + 2 <= answers.data.size());
    const double tempo = answers.data[at];
    const auto count = size_t(answers.data[at + 1]);
    std::vector<int64_t> expected;
    for (size_t k = 0; k < count; ++k) expected.push_back(int64_t(answers.data[at + 2 + k]));
    at += 2 + count;
    const std::span<const float> envelope(envelopes.data.data() + c * frames, size_t(frames));
    const double ours = estimate_tempo(envelope, 22050);
    CHECK(ours == doctest::Approx(tempo).epsilon(1e-6));  // fixture holds float32 of a float64
    CHECK(track_beats(envelope, 22050, ours) == expected);
  }
  CHECK(at == answers.data.size());
}
TEST_CASE("beat_track_percussive equals librosa on short signals: 1 sample to 1.4 s") {
  // Noise of 1, 100, 2048, 11025 (the 0.5 s clip) and 30000 samples through percussive and
  // beat_track (make_beat_fixtures.py, make_short_cases): the same tempo and beat frames, and
  // no beats (tempo 0) where the onset envelope is all zeros.
  const std::string dir = std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/audio/beat/";
  const NpyArray answers = read_npy(dir + "short_answers.npy.gz");
  size_t at = 0;
  for (int n : {1, 100, 2048, 11025, 30000}) {
    CAPTURE(n);
    const NpyArray y = read_npy(dir + "short_" + std::to_string(n) + ".npy.gz");
    REQUIRE(y.data.size() == size_t(n));
    REQUIRE(at + 2 <= answers.data.size());
    const double tempo = answers.data[at];
    const auto count = size_t(answers.data[at + 1]);
    std::vector<int64_t> expected;
    for (size_t k = 0; k < count; ++k) expected.push_back(int64_t(answers.data[at + 2 + k]));
    at += 2 + count;
    const BeatResult ours = beat_track_percussive(y.data, 22050);
    CHECK(ours.tempo == doctest::Approx(tempo).epsilon(1e-6));
    CHECK(ours.beat_frames == expected);
  }
}
