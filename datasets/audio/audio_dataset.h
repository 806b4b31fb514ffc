// `melgrad make-dataset --from-audio DIR`: a data set in the patreco3 layout (docs/DATASET.md)
// from a user's own audio files and labels, so genre / regress / multitask / study --data
// train on it unchanged.
//
// Labels are given in the data set's own formats, with the audio file as the Id (its name
// relative to DIR, its file name, or its stem):
//   genre:     tab-separated, header "Id<TAB>Genre", one of the 20 FMA genres per row
//              (CLASS_MAPPING applies when training, as for the real set);
//   multitask: comma-separated, header "Id,valence,energy,danceability", values in [0, 1].
// Every track is cut into 30-s clips of 1293 frames (features.h's feature_windows: a tail
// under 15 s is dropped, a track under 30 s is one short clip); clip ids are
// "<track id>_<k>" (k = 0, 1, ...), files "<clip id>.fused.full.npy" (140, T) float32.
// Splits, decided per track so that the clips of one track never straddle train and test:
//   genre:     per genre, the round(n * test_fraction) tracks with the smallest seeded hash
//              of their id (fnv1a64 mixed with `seed`) go to test/, the rest to train/
//              (a genre with one track keeps it in train/);
//   multitask: labelled tracks go to train/ (the training commands split them into
//              train/val/test, as for the real set); audio files of DIR without a label row
//              go to test/, unlabelled, as the real set's test/.
// With `beat`, the *_beat sub-set is written as well (the windows beat-synchronised).
// The data set is built under "<out>.partial-<pid>" and renamed into place when complete.
// Audio files that fail to decode are left out and listed (the rest is written).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/audio/features.h"
#include "datasets/patreco3.h"

namespace melgrad::audio {

enum class LabelKind { genre, multitask };

struct AudioDatasetOptions {
  LabelKind kind = LabelKind::genre;
  std::string labels_path;
  bool beat = false;
  double test_fraction = 0.2;  // genre only
  uint64_t seed = 42;
  int threads = 0;
  data::Progress progress = data::Progress::automatic;
};

struct AudioDatasetSummary {
  int64_t tracks = 0, train_clips = 0, test_clips = 0;
  std::vector<std::string> failed;   // "PATH: reason"
  std::vector<std::string> ignored;  // genre: audio files without a label row
};

AudioDatasetSummary make_dataset_from_audio(const std::string& audio_dir,
                                            const std::string& out_dir,
                                            const AudioDatasetOptions& options);

}  // namespace melgrad::audio
