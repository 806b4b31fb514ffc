// extract_features: log-mel now, chroma and beats when their code is in the tree (features.h).
#include "datasets/audio/features.h"

#include <algorithm>
#include <span>
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
    throw AudioError("beat-synchronised features are not built into this melgrad "
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

}  // namespace melgrad::audio
