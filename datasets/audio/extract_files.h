// Feature files from audio files: what `melgrad extract` and `make-dataset --from-audio` do
// per file, in parallel, going on past bad files.
//
// Output names (docs/AUDIO.md): for an input `song.flac` the clip id is `song` (dots,
// commas, tabs and spaces of the stem become '_', since the data set's loader takes the id
// as the text before the first '.', and label files are CSV/TSV). Written into OUT:
//   OUT/<id>.fused.full.npy        (140, T) float32, the data set's name for a full clip
//   OUT/beat/<id>.fused.full.npy   (140, B) with `beat` (the beat sub-sets use the same name)
// Files are written atomically (temp file + rename); an existing output is never replaced
// without `force` (the file fails with a message saying so).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/audio/features.h"
#include "datasets/patreco3.h"

namespace melgrad::audio {

// Audio files under the given paths: a file is taken as is; a folder is walked recursively
// for names ending in an audio extension (wav, flac, ogg, oga, opus, mp3, aif, aiff, au, caf,
// w64), sorted. A path that does not exist is an AudioError naming it.
std::vector<std::string> collect_audio_files(const std::vector<std::string>& inputs);

std::string clip_id_for(const std::string& audio_path);
std::string full_feature_name(const std::string& id);  // "<id>.fused.full.npy"

// Writes [rows, frames] as a float32 .npy, atomically.
void write_feature_array(const std::string& path, const FeatureArray& a);

struct ExtractFilesOptions {
  bool beat = false;
  bool force = false;
  int threads = 0;  // 0: all cores; files at once, the rest split inside each file
  data::Progress progress = data::Progress::automatic;
  std::string progress_label = "extracting";
};

struct ExtractedFile {
  std::string audio_path, id;
  bool ok = false;
  std::string error;  // "PATH: reason" when !ok
  int64_t frames = 0, beat_segments = 0;
  double seconds = 0;  // audio duration
};

// An AudioError naming the two inputs when two of them give the same clip id (which would
// write the same feature file).
void check_distinct_clip_ids(const std::vector<std::string>& audio_paths);

// Extracts every file into out_dir (created). Ids must be distinct (an AudioError lists the
// clash before anything is written). Never throws for a bad audio file: see ok / error.
std::vector<ExtractedFile> extract_files(const std::vector<std::string>& audio_paths,
                                         const std::string& out_dir,
                                         const ExtractFilesOptions& options);

}  // namespace melgrad::audio
