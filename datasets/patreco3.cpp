// Layout names, label scanning, file discovery by id and parallel loading of one
// patreco3 sub-set (see patreco3.h). The HDF5 cache lives in h5_cache.cpp.
#include "datasets/patreco3.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "datasets/clip_stream.h"
#include "datasets/default_data.h"
#include "datasets/genres.h"
#include "datasets/h5_cache.h"
#include "datasets/labels.h"
#include "datasets/npy.h"
#include "datasets/parallel.h"
#include "datasets/progress.h"

namespace fs = std::filesystem;

namespace melgrad::data {

std::string subset_key(Subset s) {
  switch (s) {
    case Subset::genre:
      return "genre";
    case Subset::genre_beat:
      return "genre_beat";
    case Subset::multitask:
      return "multitask";
    case Subset::multitask_beat:
      return "multitask_beat";
  }
  return "?";
}

std::string subset_folder(Subset s) {
  switch (s) {
    case Subset::genre:
      return "fma_genre_spectrograms";
    case Subset::genre_beat:
      return "fma_genre_spectrograms_beat";
    case Subset::multitask:
      return "multitask_dataset";
    case Subset::multitask_beat:
      return "multitask_dataset_beat";
  }
  return "?";
}

bool is_genre_subset(Subset s) { return s == Subset::genre || s == Subset::genre_beat; }

Subset parse_subset(const std::string& name) {
  for (Subset s : kAllSubsets)
    if (name == subset_key(s) || name == subset_folder(s)) return s;
  throw std::invalid_argument("unknown sub-set '" + name +
                              "' (expected genre, genre_beat, multitask or multitask_beat)");
}

FeatureRows feature_rows(Features f) {
  switch (f) {
    case Features::mel:
      return {0, 128};
    case Features::chroma:
      return {128, 140};
    case Features::fused:
      return {0, 140};
  }
  return {0, 140};
}

std::string features_name(Features f) {
  switch (f) {
    case Features::mel:
      return "mel";
    case Features::chroma:
      return "chroma";
    case Features::fused:
      return "fused";
  }
  return "?";
}

Features parse_features(const std::string& name) {
  if (name == "mel") return Features::mel;
  if (name == "chroma") return Features::chroma;
  if (name == "fused") return Features::fused;
  throw std::invalid_argument("unknown features '" + name + "' (expected mel, chroma or fused)");
}

namespace {

bool is_clip_file(const std::string& name) {
  auto ends = [&](const char* suf) {
    const std::string s(suf);
    return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".npy") || ends(".npy.gz");
}

// Clip files of a folder grouped by id; names sorted so that choices are deterministic.
std::map<std::string, std::vector<std::string>> list_clip_files(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> by_id;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (is_clip_file(name) && !e.is_directory()) by_id[clip_id_of(name)].push_back(name);
  }
  if (ec) throw DataError("cannot list '" + dir + "': " + ec.message());
  for (auto& [id, names] : by_id) std::sort(names.begin(), names.end());
  return by_id;
}

// The file for a clip: the name the row claims if present, else a plain .npy, else the first.
std::string pick_file(const std::vector<std::string>& names, const std::string& claimed) {
  for (const std::string& n : names)
    if (n == claimed) return n;
  for (const std::string& n : names)
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0) return n;
  return names.front();
}

void require_dir(const std::string& path, const std::string& what) {
  if (!fs::is_directory(path))
    throw DataError(what + " '" + path + "' does not exist or is not a folder");
}
void require_file(const std::string& path, const std::string& what) {
  if (!fs::is_regular_file(path)) throw DataError(what + " '" + path + "' does not exist");
}

bool numeric_less(const std::string& a, const std::string& b) {
  const bool da = !a.empty() && std::all_of(a.begin(), a.end(), ::isdigit);
  const bool db = !b.empty() && std::all_of(b.begin(), b.end(), ::isdigit);
  if (da && db && a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

}  // namespace

std::string subset_root(const std::string& data_dir, Subset subset) {
  require_dir(data_dir, "data directory");
  const std::string root = (fs::path(data_dir) / subset_folder(subset)).string();
  if (!fs::is_directory(root))
    throw DataError("data directory '" + data_dir + "' has no sub-folder '" +
                    subset_folder(subset) +
                    "' (expected the patreco3 layout, see docs/DATASET.md)");
  return root;
}

SubsetIndex scan_subset(const std::string& data_dir, Subset subset, bool strict) {
  SubsetIndex index;
  index.subset = subset;
  index.root = subset_root(data_dir, subset);
  const std::string train_dir = index.root + "/train", test_dir = index.root + "/test";
  require_dir(train_dir, "sub-folder");
  require_dir(test_dir, "sub-folder");
  const std::string train_labels = index.root + "/train_labels.txt";
  require_file(train_labels, "label file");

  // Adds the labelled rows of one folder; returns ids referenced.
  auto add_labelled = [&](const std::string& dir, ClipSource source, const std::string& label_file,
                          const auto& rows, auto&& fill) {
    const auto files = list_clip_files(dir);
    int64_t referenced = 0, usable = 0, dropped = 0, missing = 0;
    for (const auto& row : rows) {
      auto it = files.find(row.id);
      if (it != files.end()) ++referenced;
      if (!fill(row)) {  // dropped by CLASS_MAPPING
        ++dropped;
        continue;
      }
      if (it == files.end()) {
        ++missing;
        index.skipped.push_back({label_file, row.line, row.id,
                                 "no .npy or .npy.gz file for id " + row.id + " in " + dir});
        continue;
      }
      ++usable;
      ClipEntry& e = index.clips.back();
      e.source = source;
      e.label_line = row.line;
      e.path = dir + "/" + pick_file(it->second, row.name);
    }
    if (usable == 0)
      throw DataError(label_file + ": no usable label rows (" + std::to_string(rows.size()) +
                      " row(s): " + std::to_string(missing) + " without a clip file in " + dir +
                      ", " + std::to_string(dropped) + " of a genre CLASS_MAPPING drops)");
    index.unlisted_files += static_cast<int64_t>(files.size()) - referenced;
  };

  if (is_genre_subset(subset)) {
    const std::string test_labels = index.root + "/test_labels.txt";
    require_file(test_labels, "label file");
    for (ClipSource source : {ClipSource::train_folder, ClipSource::test_folder}) {
      const bool train = source == ClipSource::train_folder;
      const std::string& lf = train ? train_labels : test_labels;
      const auto rows = read_genre_labels(lf);
      auto& dropped = train ? index.dropped_train : index.dropped_test;
      add_labelled(train ? train_dir : test_dir, source, lf, rows, [&](const GenreLabelRow& r) {
        if (r.label < 0) {
          ++dropped[r.genre];
          return false;
        }
        ClipEntry e;
        e.id = r.id;
        e.label = r.label;
        index.clips.push_back(std::move(e));
        return true;
      });
    }
  } else {
    const auto rows = read_multitask_labels(train_labels);
    add_labelled(train_dir, ClipSource::train_folder, train_labels, rows,
                 [&](const MultitaskLabelRow& r) {
                   ClipEntry e;
                   e.id = r.id;
                   e.targets = r.targets;
                   index.clips.push_back(std::move(e));
                   return true;
                 });
    const auto files = list_clip_files(test_dir);
    std::vector<std::string> ids;
    for (const auto& [id, names] : files) ids.push_back(id);
    std::sort(ids.begin(), ids.end(), numeric_less);
    for (const std::string& id : ids) {
      ClipEntry e;
      e.id = id;
      e.source = ClipSource::test_folder;
      e.path = test_dir + "/" + pick_file(files.at(id), "");
      index.clips.push_back(std::move(e));
    }
  }
  // Entries pushed for rows without a file were left without a path: remove them.
  std::erase_if(index.clips, [](const ClipEntry& e) { return e.path.empty(); });

  if (strict && !index.skipped.empty()) {
    std::string msg =
        std::to_string(index.skipped.size()) + " label row(s) have no clip file (--strict):";
    for (size_t i = 0; i < index.skipped.size() && i < 5; ++i) {
      const SkippedRow& s = index.skipped[i];
      msg += "\n  " + s.label_file + " line " + std::to_string(s.line) + " (id " + s.id +
             "): " + s.reason;
    }
    throw DataError(msg);
  }
  return index;
}

Clip read_clip(const ClipEntry& entry, Features features, uint64_t* file_bytes) {
  if (file_bytes) {
    std::error_code ec;
    const auto size = fs::file_size(entry.path, ec);
    *file_bytes = ec ? 0 : size;
  }
  const NpyArray a = read_npy(entry.path);
  if (a.shape.size() != 2 || a.shape[0] != kFileRows || a.shape[1] < 1)
    throw DataError(entry.path + ": expected a clip of shape (140, T) with T >= 1, found " +
                    npy_shape_string(a.shape));
  const int64_t T = a.shape[1];
  const FeatureRows rows = feature_rows(features);
  const int64_t F = rows.count();
  for (size_t i = 0; i < a.data.size(); ++i)
    if (!std::isfinite(a.data[i]))
      throw DataError(entry.path + ": non-finite value " + std::to_string(a.data[i]) + " at row " +
                      std::to_string(static_cast<int64_t>(i) / T) + ", frame " +
                      std::to_string(static_cast<int64_t>(i) % T) +
                      " (NaN/Inf, or beyond the float32 range)");
  Clip c;
  c.id = entry.id;
  c.path = entry.path;
  c.source = entry.source;
  c.frames = T;
  c.label = entry.label;
  c.targets = entry.targets;
  c.values.resize(static_cast<size_t>(T * F));
  for (int64_t f = 0; f < F; ++f) {
    const float* src = a.data.data() + (rows.begin + f) * T;
    for (int64_t t = 0; t < T; ++t) c.values[static_cast<size_t>(t * F + f)] = src[t];
  }
  return c;
}

void select_features(SubsetData& data, Features features) {
  if (data.features == features) return;
  if (data.feature_dim != kFileRows)
    throw std::logic_error("select_features: data already narrowed to " +
                           features_name(data.features));
  const FeatureRows rows = feature_rows(features);
  const int64_t F = rows.count();
  for (Clip& c : data.clips) {
    std::vector<float> v(static_cast<size_t>(c.frames * F));
    for (int64_t t = 0; t < c.frames; ++t)
      std::copy_n(c.values.begin() + t * kFileRows + rows.begin, F, v.begin() + t * F);
    c.values = std::move(v);
  }
  data.features = features;
  data.feature_dim = F;
  data.report.value_bytes = 0;
  for (const Clip& c : data.clips) data.report.value_bytes += c.values.size() * sizeof(float);
}

namespace {

void fill_split_lists(SubsetData& d) {
  d.train_pool.clear();
  d.test_given.clear();
  for (size_t i = 0; i < d.clips.size(); ++i)
    (d.clips[i].source == ClipSource::train_folder ? d.train_pool : d.test_given)
        .push_back(static_cast<int64_t>(i));
  if (is_genre_subset(d.subset))
    d.class_names = genre_classes();
  else
    d.target_names = {"valence", "energy", "danceability"};
}

void check_strict(const SubsetData& d, bool strict) {
  if (!strict || d.skipped.empty()) return;
  const SkippedRow& s = d.skipped.front();
  throw DataError(std::to_string(d.skipped.size()) +
                  " label row(s) have no clip file (--strict):\n  " + s.label_file + " line " +
                  std::to_string(s.line) + " (id " + s.id + "): " + s.reason);
}

}  // namespace

SubsetData load_subset(const std::string& data_dir, Subset subset, const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (options.stream != StreamMode::off && !options.use_cache)
    throw DataError("streaming reads the clips from the HDF5 cache, which is turned off");
  SubsetData data;
  data.subset = subset;
  std::string cache_file, fingerprint, stream_reason;
  if (options.use_cache) {
    const std::string root = subset_root(data_dir, subset);
    fingerprint = subset_fingerprint(root);
    const std::string cache_dir =
        options.cache_dir.empty() ? cache_root() + "/h5" : options.cache_dir;
    cache_file = cache_file_for(cache_dir, root, subset);
    report_stale_temps(remove_stale_temps(cache_dir), cache_dir);
    std::string damage;
    H5CacheIndex index;
    const bool indexed = read_h5_cache_index(cache_file, fingerprint, index, &damage);
    if (!indexed && !damage.empty())
      std::fprintf(stderr, "melgrad: the HDF5 cache %s is damaged (%s); rebuilding it\n",
                   cache_file.c_str(), damage.c_str());
    auto finish = [&](SubsetData& d) {
      fill_split_lists(d);
      check_strict(d, options.strict);
      d.report.seconds = seconds();
      d.report.clips = static_cast<int64_t>(d.clips.size());
      d.report.stream_reason = stream_reason;
      return std::move(d);
    };
    const bool streamed = load_streamed(data_dir, subset, options, cache_file, fingerprint,
                                        indexed ? &index : nullptr, data);
    stream_reason = data.report.stream_reason;
    if (streamed) return finish(data);
    damage.clear();
    if (indexed && read_h5_cache(cache_file, fingerprint, options.features, data, &damage,
                                 options.cancelled)) {
      data.report.from_cache = true;
      data.report.cache_file = cache_file;
      return finish(data);
    }
    if (!damage.empty())
      std::fprintf(stderr, "melgrad: the HDF5 cache %s is damaged (%s); rebuilding it\n",
                   cache_file.c_str(), damage.c_str());
  }

  const SubsetIndex index = scan_subset(data_dir, subset, options.strict);
  const Features read_as = options.use_cache ? Features::fused : options.features;
  data.features = read_as;
  data.feature_dim = feature_rows(read_as).count();
  data.skipped = index.skipped;
  data.clips.resize(index.clips.size());
  std::vector<uint64_t> bytes(index.clips.size(), 0);
  {
    ProgressBar bar("loading " + subset_key(subset), static_cast<int64_t>(index.clips.size()),
                    options.progress);
    parallel_for(static_cast<int64_t>(index.clips.size()), options.threads, [&](int64_t i) {
      stop_if_cancelled(options.cancelled);
      const auto k = static_cast<size_t>(i);
      data.clips[k] = read_clip(index.clips[k], read_as, &bytes[k]);
      bar.advance(1, bytes[k]);
    });
  }
  for (size_t k = 0; k < bytes.size(); ++k) {
    data.report.source_bytes += bytes[k];
    data.report.value_bytes += data.clips[k].values.size() * sizeof(float);
  }
  fill_split_lists(data);
  if (options.use_cache) {
    try {
      write_h5_cache(cache_file, fingerprint, data, options.cancelled);
      data.report.cache_file = cache_file;
    } catch (const LoadCancelled&) {
      throw;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "melgrad: warning: could not write the data cache: %s\n", e.what());
    }
    select_features(data, options.features);
  }
  data.report.seconds = seconds();
  data.report.clips = static_cast<int64_t>(data.clips.size());
  data.report.stream_reason = stream_reason;
  return data;
}

}  // namespace melgrad::data
