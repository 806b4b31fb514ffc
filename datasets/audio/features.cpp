// extract_features: log-mel now, chroma and beats when their code is in the tree (features.h).
#include "datasets/audio/features.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>

#include "datasets/audio/mel.h"

#if __has_include("datasets/audio/chroma.h")
#include "datasets/audio/chroma.h"
#define MELGRAD_AUDIO_HAS_CHROMA 1
#else
#define MELGRAD_AUDIO_HAS_CHROMA 0
#endif
#if __has_include("datasets/audio/beat.h") && __has_include("datasets/audio/sync.h")
#include "datasets/audio/beat.h"
#include "datasets/audio/sync.h"
#define MELGRAD_AUDIO_HAS_BEAT 1
#else
#define MELGRAD_AUDIO_HAS_BEAT 0
#endif

namespace melgrad::audio {

bool chroma_available() { return MELGRAD_AUDIO_HAS_CHROMA; }
bool beat_available() { return MELGRAD_AUDIO_HAS_BEAT; }

ClipFeatures extract_features(const Signal& signal, const ExtractOptions& options) {
  if (signal.sample_rate != 22050.0)
    throw AudioError("extract_features: the signal must be at 22050 Hz, got " +
                     std::to_string(signal.sample_rate));
  if (signal.samples.empty()) throw AudioError("extract_features: no audio samples");
  if (options.beat && !beat_available())
    throw AudioError(
        "beat-synchronised features are not built into this melgrad "
        "(datasets/audio/beat.h and sync.h are missing)");
  const std::span<const float> y(signal.samples);
  MelSpectrogram mel = melspectrogram(y, signal.sample_rate);
  power_to_db(mel.values);

  ClipFeatures out;
  out.full.frames = mel.frames;
#if MELGRAD_AUDIO_HAS_CHROMA
  const std::vector<float> chroma = chroma_cqt(y, signal.sample_rate);  // [12, frames]
  if (chroma.size() != size_t(kChromaRows * mel.frames))
    throw AudioError("extract_features: chroma_cqt gave " + std::to_string(chroma.size()) +
                     " values, expected 12 x " + std::to_string(mel.frames) + " frames");
  out.full.rows = kFusedRows;
  out.full.values = std::move(mel.values);
  out.full.values.insert(out.full.values.end(), chroma.begin(), chroma.end());
#else
  out.full.rows = kMelRows;
  out.full.values = std::move(mel.values);
#endif

#if MELGRAD_AUDIO_HAS_BEAT
  if (options.beat) {
    BeatResult beats = beat_track_percussive(y, signal.sample_rate);
    out.tempo = beats.tempo;
    out.beat_frames = std::move(beats.beat_frames);
    FeatureArray b;
    b.rows = out.full.rows;
    b.values = sync_median(out.full.values, out.full.rows, out.full.frames, out.beat_frames);
    b.frames = int64_t(b.values.size()) / b.rows;
    out.beat = std::move(b);
  }
#endif
  return out;
}

std::vector<FeatureWindow> feature_windows(const ClipFeatures& features, bool beat,
                                           int64_t window_frames) {
  if (window_frames < 1) throw std::invalid_argument("feature_windows: window_frames must be >= 1");
  if (beat && !beat_available())
    throw AudioError(
        "beat-synchronised windows are not built into this melgrad "
        "(datasets/audio/beat.h and sync.h are missing)");
  if (beat && !features.beat)
    throw std::invalid_argument("feature_windows: beat windows need features extracted with beat");
  const FeatureArray& full = features.full;
  std::vector<FeatureWindow> windows;
  for (int64_t start = 0; start < full.frames; start += window_frames) {
    const int64_t end = std::min(full.frames, start + window_frames);
    if (start > 0 && 2 * (end - start) < window_frames) break;  // a short tail
    FeatureWindow w;
    w.first_frame = start;
    w.end_frame = end;
    w.array.rows = full.rows;
    w.array.frames = end - start;
    w.array.values.resize(size_t(full.rows * w.array.frames));
    for (int64_t r = 0; r < full.rows; ++r)
      std::copy_n(&full.values[size_t(r * full.frames + start)], w.array.frames,
                  &w.array.values[size_t(r * w.array.frames)]);
#if MELGRAD_AUDIO_HAS_BEAT
    if (beat) {
      std::vector<int64_t> inside;
      for (int64_t b : features.beat_frames)
        if (b >= start && b < end) inside.push_back(b - start);
      std::vector<float> synced = sync_median(w.array.values, w.array.rows, w.array.frames, inside);
      w.array.frames = int64_t(synced.size()) / w.array.rows;
      w.array.values = std::move(synced);
    }
#endif
    windows.push_back(std::move(w));
  }
  return windows;
}

}  // namespace melgrad::audio
