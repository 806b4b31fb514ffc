// The whole feature recipe of `melgrad extract` (features.h: log-mel + chroma rows, beats on
// the percussive part, beat-synchronous medians) against librosa 0.11.0's, on Debian's
// planetblupi-music-ogg tracks. Fixtures: tests/fixtures/audio/extract, written by
// make_extract_fixtures.py (30-s excerpts of music000 ... music009, and the whole of music004
// and music005 through each side's own loader).
//
// Tolerances (issue 13, not widened): log-mel dB 99.9th percentile |diff| <= 0.01 and max
// <= 0.1; chroma max |diff| <= 1e-3; beat frames identical on >= 90 % of the tracks, beat
// F-measure (+-70 ms) >= 0.95 and tempo within 1 % on every track; the beat-synchronised
// array, on the segments whose two boundaries both sides share, max |diff| <= 0.05 dB (mel
// rows) and <= 1e-3 (chroma rows).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "audio_test_util.h"
#include "datasets/audio/decode.h"
#include "datasets/audio/features.h"
#include "datasets/audio/resample.h"
#include "datasets/audio/sync.h"

namespace {

using namespace melgrad::audio;
using namespace melgrad::audio::testing;
using melgrad::data::NpyArray;

const std::string kExtractFixtures =
    std::string(MELGRAD_SOURCE_DIR) + "/tests/fixtures/audio/extract/";
constexpr double kFrameSeconds = 512.0 / 22050.0;

NpyArray extract_fixture(const std::string& name) {
  return melgrad::data::read_npy(kExtractFixtures + name + ".npy.gz");
}

// mir_eval.beat.f_measure's matching (each reference beat matched to at most one estimate
// within +-70 ms; the beats here are far apart, so the nearest free estimate is the match).
double beat_f_measure(const std::vector<int64_t>& reference, const std::vector<int64_t>& ours) {
  if (reference.empty() && ours.empty()) return 1.0;
  if (reference.empty() || ours.empty()) return 0.0;
  std::vector<bool> used(ours.size(), false);
  int64_t hits = 0;
  for (int64_t r : reference) {
    int64_t best = -1;
    double best_gap = 0.07;
    for (size_t j = 0; j < ours.size(); ++j) {
      const double gap = std::abs(double(ours[j] - r)) * kFrameSeconds;
      if (!used[j] && gap <= best_gap) {
        best = int64_t(j);
        best_gap = gap;
      }
    }
    if (best >= 0) {
      used[size_t(best)] = true;
      ++hits;
    }
  }
  const double precision = double(hits) / double(ours.size());
  const double recall = double(hits) / double(reference.size());
  return hits == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
}

struct TrackOutcome {
  bool same_beats = false;
};

// The worst figures over the tracks, printed at the end (docs/AUDIO.md quotes them).
struct Worst {
  double mel_p999 = 0, mel_max = 0, chroma_max = 0, sync_mel_max = 0, sync_chroma_max = 0;
  double tempo_rel = 0, f_measure = 1;
} worst;

// Beats, tempo and the beat-synchronised array of one track against the fixtures `name`.
TrackOutcome check_beats(const std::string& name, const ClipFeatures& f) {
  const NpyArray answers = extract_fixture(name + ".beats");
  const double tempo = answers.data.at(0);
  std::vector<int64_t> reference;
  for (size_t i = 1; i < answers.data.size(); ++i) reference.push_back(int64_t(answers.data[i]));
  CHECK(std::abs(f.tempo - tempo) <= 0.01 * tempo);
  const double f_measure = beat_f_measure(reference, f.beat_frames);
  worst.tempo_rel = std::max(worst.tempo_rel, std::abs(f.tempo - tempo) / tempo);
  worst.f_measure = std::min(worst.f_measure, f_measure);
  CAPTURE(f_measure);
  CHECK(f_measure >= 0.95);
  const bool same = reference == f.beat_frames;
  if (!same)
    std::printf("%s: beat frames differ (%zu ours, %zu librosa's; F %.4f)\n", name.c_str(),
                f.beat_frames.size(), reference.size(), f_measure);

  // Segments [b_j, b_j+1) present on both sides.
  const NpyArray theirs = extract_fixture(name + ".beat");
  REQUIRE(f.beat.has_value());
  const FeatureArray& mine = *f.beat;
  REQUIRE(theirs.shape.at(0) == kFusedRows);
  REQUIRE(mine.rows == kFusedRows);
  const std::vector<int64_t> our_bounds = sync_boundaries(f.beat_frames, f.full.frames);
  const std::vector<int64_t> their_bounds = sync_boundaries(reference, f.full.frames);
  std::map<std::pair<int64_t, int64_t>, int64_t> their_segment;
  for (size_t j = 0; j + 1 < their_bounds.size(); ++j)
    their_segment[{their_bounds[j], their_bounds[j + 1]}] = int64_t(j);
  const int64_t their_cols = theirs.shape.at(1);
  double mel_max = 0, chroma_max = 0;
  int64_t shared = 0;
  for (size_t j = 0; j + 1 < our_bounds.size(); ++j) {
    const auto it = their_segment.find({our_bounds[j], our_bounds[j + 1]});
    if (it == their_segment.end()) continue;
    ++shared;
    for (int64_t r = 0; r < kFusedRows; ++r) {
      const double d = std::abs(double(mine.values[size_t(r * mine.frames + int64_t(j))]) -
                                theirs.data[size_t(r * their_cols + it->second)]);
      (r < kMelRows ? mel_max : chroma_max) = std::max(r < kMelRows ? mel_max : chroma_max, d);
    }
  }
  CAPTURE(shared);
  CAPTURE(mel_max);
  CAPTURE(chroma_max);
  CHECK(shared >= int64_t(0.9 * double(their_cols)));
  CHECK(mel_max <= 0.05);
  CHECK(chroma_max <= 1e-3);
  worst.sync_mel_max = std::max(worst.sync_mel_max, mel_max);
  worst.sync_chroma_max = std::max(worst.sync_chroma_max, chroma_max);
  return {same};
}

TEST_CASE("music: extract's arrays match librosa's full recipe (10 excerpts, 2 whole tracks)") {
  int64_t tracks = 0, same_beats = 0;
  for (int i = 0; i < 10; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "music%03d", i);
    CAPTURE(name);
    const Signal excerpt = decode_mono(music_track(name), 30 * 44100, 30 * 44100);
    REQUIRE(excerpt.sample_rate == 44100.0);
    Signal y;
    y.samples = resample(excerpt.samples, 44100.0, 22050.0);
    y.sample_rate = 22050.0;
    const ClipFeatures f = extract_features(y, {.beat = true});

    // The full array, every 4th frame (the fixture's stride).
    const NpyArray full = extract_fixture(std::string(name) + ".full_stride4");
    REQUIRE(full.shape.at(0) == kFusedRows);
    const int64_t cols = full.shape.at(1);
    REQUIRE(cols == (f.full.frames + 3) / 4);
    std::vector<float> mel, chroma, mel_ref, chroma_ref;
    for (int64_t r = 0; r < kFusedRows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        (r < kMelRows ? mel : chroma).push_back(f.full.values[size_t(r * f.full.frames + 4 * c)]);
        (r < kMelRows ? mel_ref : chroma_ref).push_back(float(full.data[size_t(r * cols + c)]));
      }
    const DiffStats dm = diff_stats(mel, mel_ref), dc = diff_stats(chroma, chroma_ref);
    CAPTURE(dm.p999);
    CAPTURE(dm.max);
    CAPTURE(dc.max);
    CHECK(dm.p999 <= 0.01);
    CHECK(dm.max <= 0.1);
    CHECK(dc.max <= 1e-3);
    worst.mel_p999 = std::max(worst.mel_p999, dm.p999);
    worst.mel_max = std::max(worst.mel_max, dm.max);
    worst.chroma_max = std::max(worst.chroma_max, dc.max);

    same_beats += check_beats(name, f).same_beats;
    ++tracks;
  }
  for (const char* name : {"music004", "music005"}) {
    CAPTURE(name);
    const ClipFeatures f = extract_features(load(music_track(name)), {.beat = true});
    same_beats += check_beats(std::string(name) + "_whole", f).same_beats;
    ++tracks;
  }
  CAPTURE(same_beats);
  CHECK(double(same_beats) >= 0.9 * double(tracks));
  std::printf(
      "worst of %lld tracks: log-mel p99.9 %.2g dB, max %.2g dB; chroma max %.2g; tempo %.2g "
      "relative; beat frames the same on %lld; F-measure >= %.4f; beat-synchronised mel max "
      "%.2g dB, chroma max %.2g\n",
      static_cast<long long>(tracks), worst.mel_p999, worst.mel_max, worst.chroma_max,
      worst.tempo_rel, static_cast<long long>(same_beats), worst.f_measure, worst.sync_mel_max,
      worst.sync_chroma_max);
}

}  // namespace
