// The patreco3 data set (REFERENCE §1): layout, scanning of the label files, and loading
// of one sub-set into memory.
//
//   DATA_DIR/fma_genre_spectrograms/      {train,test}/ + train_labels.txt, test_labels.txt
//   DATA_DIR/fma_genre_spectrograms_beat/ same, beat-synchronised
//   DATA_DIR/multitask_dataset/           {train,test}/ + train_labels.txt (test/ unlabelled)
//   DATA_DIR/multitask_dataset_beat/      same, beat-synchronised
//
// Each clip file is a .npy (or gzip .npy) array of shape (140, T): rows 0–127 log-mel dB,
// 128–139 chroma. A label row names its clip by id (text before the first '.'); the file
// is found by that id in the folder, whatever suffix the row claims.
//
// In memory a clip is float32 [T, F], time-major (frame t, band f at values[t * F + f]),
// transposed from the file's (140, T) and restricted to the selected feature rows
// (mel F = 128, chroma F = 12, fused F = 140). A batch of clips is then [N, T, F]
// (batcher.h); CNN code views it as [N, 1, T, F].
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "datasets/file_io.h"

namespace melgrad::data {

enum class Subset { genre, genre_beat, multitask, multitask_beat };
constexpr std::array<Subset, 4> kAllSubsets = {Subset::genre, Subset::genre_beat, Subset::multitask,
                                               Subset::multitask_beat};
std::string subset_key(Subset s);     // "genre", "genre_beat", "multitask", "multitask_beat"
std::string subset_folder(Subset s);  // "fma_genre_spectrograms", ...
bool is_genre_subset(Subset s);
Subset parse_subset(const std::string& key_or_folder);  // throws std::invalid_argument

enum class Features { mel, chroma, fused };
constexpr int64_t kFileRows = 140;  // rows of every clip file: 128 mel + 12 chroma
struct FeatureRows {
  int64_t begin, end;  // file rows [begin, end)
  int64_t count() const { return end - begin; }
};
FeatureRows feature_rows(Features f);  // mel [0,128), chroma [128,140), fused [0,140)
std::string features_name(Features f);
Features parse_features(const std::string& name);  // "mel" | "chroma" | "fused"

enum class ClipSource : uint8_t { train_folder = 0, test_folder = 1 };
constexpr float kNoTarget = std::numeric_limits<float>::quiet_NaN();

// One clip as listed by the label files and found on disk, before its array is read.
struct ClipEntry {
  std::string id;
  std::string path;  // the file found for the id
  ClipSource source = ClipSource::train_folder;
  int64_t label_line = 0;  // 0 = unlabelled (multitask test/)
  int64_t label = -1;      // genre class (genre sets), else -1
  std::array<float, 3> targets{kNoTarget, kNoTarget, kNoTarget};  // valence, energy, danceability
};

// A label row that was not used because its file is missing.
struct SkippedRow {
  std::string label_file;
  int64_t line = 0;
  std::string id;
  std::string reason;
};

struct SubsetIndex {
  Subset subset = Subset::genre;
  std::string root;  // DATA_DIR/<sub-folder>
  // Clips of train/ in label-file order, then clips of test/ (labelled: label-file order;
  // unlabelled multitask test/: sorted by id).
  std::vector<ClipEntry> clips;
  std::vector<SkippedRow> skipped;
  // Rows dropped by CLASS_MAPPING, per raw genre, for the train and test label files.
  std::map<std::string, int64_t> dropped_train, dropped_test;
  int64_t unlisted_files = 0;  // clip files in train/ (or labelled test/) with no label row
};

// The checked sub-folder DATA_DIR/<folder> (DataError naming what is missing).
std::string subset_root(const std::string& data_dir, Subset subset);

// Reads the label files of one sub-set and finds every clip's file. Missing DATA_DIR,
// sub-folder, train/ or test/ folder or label file, malformed rows and unknown genres are
// DataErrors naming them. A row whose file is missing is recorded in `skipped` (a
// DataError naming the row and file when `strict`).
SubsetIndex scan_subset(const std::string& data_dir, Subset subset, bool strict = false);

enum class Progress { automatic, never, always };  // automatic: on a terminal, or when slow

// Whether a load streams the clips from the HDF5 cache instead of reading them into memory
// (clip_stream.h): off, on, or automatic (when holding them would not fit in memory).
enum class StreamMode { off, on, automatic };

struct LoadOptions {
  Features features = Features::fused;
  bool strict = false;
  int threads = 0;  // 0 = all hardware threads
  Progress progress = Progress::automatic;
  bool use_cache = true;
  std::string cache_dir;                // "" = <cache_root()>/h5 (default_data.h)
  StreamMode stream = StreamMode::off;  // needs use_cache
  CancelCheck cancelled;                // polled between clips (file_io.h)
};

struct Clip {
  std::string id;
  std::string path;
  ClipSource source = ClipSource::train_folder;
  int64_t frames = 0;         // T
  std::vector<float> values;  // [T, F] time-major, F = SubsetData::feature_dim
  int64_t label = -1;
  std::array<float, 3> targets{kNoTarget, kNoTarget, kNoTarget};
};

struct LoadReport {
  double seconds = 0;
  int64_t clips = 0;
  uint64_t source_bytes =
      0;  // bytes of the clip files (as stored, gzip or not) or of the cache read
  uint64_t value_bytes = 0;  // float32 bytes held in memory
  bool from_cache = false;
  std::string cache_file;     // "" when no cache was used
  bool streamed = false;      // clips are read on demand from cache_file (SubsetData::stream)
  std::string stream_reason;  // why streamed or not (StreamMode::on / automatic); "" when off
};

class CachedValues;  // clip_stream.h

struct SubsetData {
  Subset subset = Subset::genre;
  Features features = Features::fused;
  int64_t feature_dim = kFileRows;
  std::vector<std::string> class_names;   // the 10 classes (genre sets), else empty
  std::vector<std::string> target_names;  // valence, energy, danceability (multitask sets)
  std::vector<Clip> clips;                // values empty when streamed
  std::shared_ptr<CachedValues> stream;   // set: values are read on demand (clip_stream.h)
  std::vector<int64_t> train_pool;        // clips from train/ (labelled)
  std::vector<int64_t> test_given;  // clips from test/ (genre: labelled; multitask: unlabelled)
  std::vector<SkippedRow> skipped;
  LoadReport report;
};

// Scans and loads one sub-set: float32, in parallel, with a progress bar, through the
// HDF5 cache (h5_cache.h) when enabled; or streams it from the cache (options.stream,
// clip_stream.h), building the cache a block of clips at a time when it is missing. Corrupt files,
// wrong shapes and NaN/Inf values are DataErrors naming the file.
SubsetData load_subset(const std::string& data_dir, Subset subset, const LoadOptions& options = {});

// Reads one clip file into [T, F] for the given feature rows (validates shape (140, T) and
// finiteness). `file_bytes` receives the size of the file as stored.
Clip read_clip(const ClipEntry& entry, Features features, uint64_t* file_bytes = nullptr);

// Narrows fused [T, 140] clips to the given features in place.
void select_features(SubsetData& data, Features features);

}  // namespace melgrad::data
