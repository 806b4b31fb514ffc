// The study's feature arrays from a decoded signal (REFERENCE §1, docs/AUDIO.md):
//
//   full:  (140, T) rows 0-127 log-mel dB (mel.h: melspectrogram + power_to_db, ref = max),
//          rows 128-139 chroma_cqt (chroma.h), T = 1 + n / 512 frames of the 22 050 Hz signal.
//   beat:  (140, B) the full array aggregated between beats with the median (sync.h's
//          sync_median = librosa.util.sync(..., aggregate=np.median)), beats from
//          beat_track on the percussive part of HPSS (beat.h's beat_track_percussive).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/audio/decode.h"

namespace melgrad::audio {

constexpr int64_t kMelRows = 128;
constexpr int64_t kChromaRows = 12;
constexpr int64_t kFusedRows = kMelRows + kChromaRows;

struct FeatureArray {
  int64_t rows = 0, frames = 0;
  std::vector<float> values;  // [rows, frames] row-major
};

struct ExtractOptions {
  bool beat = false;  // also the beat-synchronised array
  int threads = 1;    // >= 2: chroma on a thread of its own, HPSS's median filters split
};

struct ClipFeatures {
  FeatureArray full;                 // (140, T)
  std::optional<FeatureArray> beat;  // (140, B) when options.beat
  double tempo = 0;                  // beats per minute (with beat)
  std::vector<int64_t> beat_frames;  // frame indices of the beats (with beat)
};

// 30-s windows of a whole track's features, as the data set's clips (T = 1293 frames):
// windows [k * window_frames, (k + 1) * window_frames) of the full array; the last, shorter
// window is kept when it has at least half a window of frames, or when it is the only one (a
// track shorter than 30 s is one short window). With `beat`, each window is the median of
// its frames between the beats that fall inside it (sync_median on the window, as the data
// set's beat clips were made from their 30-s clip); needs features extracted with beat.
constexpr int64_t kClipFrames = 1293;
struct FeatureWindow {
  int64_t first_frame = 0, end_frame = 0;  // in frames of the full array (hop 512 at 22 050 Hz)
  FeatureArray array;
};
std::vector<FeatureWindow> feature_windows(const ClipFeatures& features, bool beat,
                                           int64_t window_frames = kClipFrames);

// `signal` must be mono at 22 050 Hz (audio::load). Throws AudioError for a signal that is
// empty.
ClipFeatures extract_features(const Signal& signal, const ExtractOptions& options);

}  // namespace melgrad::audio
