// Parallel per-file feature extraction: see extract_files.h.
#include "datasets/audio/extract_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "datasets/npy.h"
#include "datasets/parallel.h"
#include "datasets/progress.h"

namespace melgrad::audio {
namespace fs = std::filesystem;

namespace {

bool has_audio_extension(const fs::path& p) {
  static const std::set<std::string> kExtensions = {
      ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return kExtensions.count(ext) > 0;
}

bool exists_no_throw(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

}  // namespace

std::vector<std::string> collect_audio_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(input, ec))
        if (entry.is_regular_file() && has_audio_extension(entry.path()))
          found.push_back(entry.path().string());
      if (ec) throw AudioError(input + ": cannot list the folder: " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      files.push_back(input);
    } else {
      throw AudioError(input + ": no such file or folder");
    }
  }
  return files;
}

std::string clip_id_for(const std::string& audio_path) {
  std::string id = fs::path(audio_path).stem().string();
  for (char& c : id)
    if (c == '.' || c == ',' || c == '\t' || c == ' ' || c == '\n' || c == '\r') c = '_';
  return id.empty() ? "_" : id;
}

std::string full_feature_name(const std::string& id) { return id + ".fused.full.npy"; }

void write_feature_array(const std::string& path, const FeatureArray& a) {
  const std::vector<double> values(a.values.begin(), a.values.end());
  data::write_npy(path, {a.rows, a.frames}, values.data(),
                  data::NpyWriteOptions{.dtype = data::NpyDtype::f4});
}

void check_distinct_clip_ids(const std::vector<std::string>& audio_paths) {
  std::map<std::string, std::string> first_with_id;
  for (const std::string& path : audio_paths) {
    const std::string id = clip_id_for(path);
    auto [it, fresh] = first_with_id.emplace(id, path);
    if (!fresh)
      throw AudioError("two inputs give the clip id '" + id + "': " + it->second + " and " + path +
                       " (rename one)");
  }
}

std::vector<ExtractedFile> extract_files(const std::vector<std::string>& audio_paths,
                                         const std::string& out_dir,
                                         const ExtractFilesOptions& options) {
  check_distinct_clip_ids(audio_paths);
  std::vector<ExtractedFile> results(audio_paths.size());
  for (size_t i = 0; i < audio_paths.size(); ++i) {
    results[i].audio_path = audio_paths[i];
    results[i].id = clip_id_for(audio_paths[i]);
  }
  fs::create_directories(out_dir);
  if (options.beat) fs::create_directories(fs::path(out_dir) / "beat");

  // Files run in parallel; threads left over (fewer files than threads) go inside each file.
  const int64_t files = int64_t(audio_paths.size());
  const int workers = data::resolve_threads(options.threads);
  const int64_t at_once = std::max<int64_t>(1, std::min<int64_t>(workers, files));
  const int per_file = std::max(1, workers / int(at_once));
  data::ProgressBar bar(options.progress_label, files, options.progress);
  data::parallel_for(files, workers, [&](int64_t i) {
    ExtractedFile& r = results[size_t(i)];
    try {
      const fs::path full_path = fs::path(out_dir) / full_feature_name(r.id);
      const fs::path beat_path = fs::path(out_dir) / "beat" / (r.id + ".fused.full.npy");
      for (const fs::path& p : {full_path, beat_path}) {
        if ((p == beat_path && !options.beat) || options.force || !exists_no_throw(p)) continue;
        throw AudioError(p.string() + " already exists (use --force to overwrite)");
      }
      Signal signal = load(r.audio_path);
      r.seconds = double(signal.samples.size()) / signal.sample_rate;
      ClipFeatures f =
          extract_features(signal, ExtractOptions{.beat = options.beat, .threads = per_file});
      signal = Signal{};  // free the samples before the file is encoded
      write_feature_array(full_path.string(), f.full);
      r.frames = f.full.frames;
      if (f.beat) {
        write_feature_array(beat_path.string(), *f.beat);
        r.beat_segments = f.beat->frames;
      }
      r.ok = true;
    } catch (const std::exception& e) {
      const std::string what = e.what();
      // Decoder errors already start with the path; others get it in front.
      r.error = what.rfind(r.audio_path, 0) == 0 ? what : r.audio_path + ": " + what;
    }
    std::error_code size_error;  // the rate on the bar is MB of audio files read per second
    const std::uintmax_t bytes = fs::file_size(r.audio_path, size_error);
    bar.advance(1, size_error ? 0 : static_cast<uint64_t>(bytes));
  });
  bar.finish();
  return results;
}

}  // namespace melgrad::audio
