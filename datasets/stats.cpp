// Header-only statistics of a data folder and their JSON / text forms (see stats.h).
#include "datasets/stats.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "datasets/file_io.h"
#include "datasets/genres.h"
#include "datasets/npy.h"
#include "datasets/parallel.h"
#include "datasets/splits.h"

namespace melgrad::data {

namespace {

LengthStats length_stats(std::vector<int64_t> t) {
  LengthStats s;
  s.count = static_cast<int64_t>(t.size());
  if (t.empty()) return s;
  std::sort(t.begin(), t.end());
  s.min = t.front();
  s.max = t.back();
  double sum = 0;
  for (int64_t v : t) sum += static_cast<double>(v);
  s.mean = sum / static_cast<double>(t.size());
  const size_t m = t.size() / 2;
  s.median = t.size() % 2 ? static_cast<double>(t[m]) : 0.5 * static_cast<double>(t[m - 1] + t[m]);
  return s;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += c;
        }
    }
  }
  return "\"" + o + "\"";
}

std::string json_counts(const std::map<std::string, int64_t>& m) {
  std::string o = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    o += (first ? "" : ", ") + json_escape(k) + ": " + std::to_string(v);
    first = false;
  }
  return o + "}";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

DataStats compute_data_stats(const std::string& data_dir, uint64_t seed, bool strict, int threads) {
  DataStats stats;
  stats.data_dir = data_dir;
  stats.seed = seed;
  for (Subset subset : kAllSubsets) {
    const SubsetIndex index = scan_subset(data_dir, subset, strict);
    std::vector<int64_t> frames(index.clips.size(), 0);
    std::vector<char> gz(index.clips.size(), 0);
    parallel_for(static_cast<int64_t>(index.clips.size()), threads, [&](int64_t i) {
      const ClipEntry& e = index.clips[static_cast<size_t>(i)];
      const NpyHeader h = read_npy_header(e.path);
      if (h.shape.size() != 2 || h.shape[0] != kFileRows || h.shape[1] < 1)
        throw DataError(e.path + ": expected a clip of shape (140, T) with T >= 1, found " +
                        npy_shape_string(h.shape));
      frames[static_cast<size_t>(i)] = h.shape[1];
      gz[static_cast<size_t>(i)] = file_is_gzip(e.path);  // by its magic, as the reader decides
    });
    std::vector<int64_t> pool, given;
    for (size_t i = 0; i < index.clips.size(); ++i)
      (index.clips[i].source == ClipSource::train_folder ? pool : given)
          .push_back(static_cast<int64_t>(i));
    const Splits sp = make_splits(subset, pool, given, seed);

    SubsetStats s;
    s.subset = subset;
    s.skipped = index.skipped;
    s.dropped_train = index.dropped_train;
    s.dropped_test = index.dropped_test;
    s.unlisted_files = index.unlisted_files;
    for (char g : gz) s.gzip_files += g;
    std::vector<std::pair<std::string, const std::vector<int64_t>*>> parts = {
        {"train", &sp.train}, {"val", &sp.val}, {"test", &sp.test}};
    if (!is_genre_subset(subset)) parts.push_back({"unlabelled", &sp.unlabelled});
    for (const auto& [name, list] : parts) {
      s.split_names.push_back(name);
      s.counts[name] = static_cast<int64_t>(list->size());
      std::vector<int64_t> t;
      for (int64_t i : *list) t.push_back(frames[static_cast<size_t>(i)]);
      s.lengths[name] = length_stats(t);
      if (is_genre_subset(subset)) {
        auto& classes = s.classes[name];
        for (const std::string& c : genre_classes()) classes[c] = 0;
        for (int64_t i : *list)
          ++classes[genre_classes()[static_cast<size_t>(
              index.clips[static_cast<size_t>(i)].label)]];
      }
    }
    stats.subsets.push_back(std::move(s));
  }
  return stats;
}

std::string data_stats_json(const DataStats& stats) {
  std::ostringstream o;
  o << "{\n  \"data_dir\": " << json_escape(stats.data_dir) << ",\n  \"seed\": " << stats.seed;
  for (const SubsetStats& s : stats.subsets) {
    const bool genre = is_genre_subset(s.subset);
    o << ",\n  " << json_escape(subset_key(s.subset)) << ": {";
    for (const std::string& split : s.split_names)
      o << "\n    " << json_escape(split) << ": "
        << (genre ? json_counts(s.classes.at(split)) : std::to_string(s.counts.at(split))) << ",";
    o << "\n    \"lengths\": {";
    bool first = true;
    for (const std::string& split : s.split_names) {
      const LengthStats& l = s.lengths.at(split);
      o << (first ? "" : ", ") << json_escape(split) << ": {\"count\": " << l.count
        << ", \"min\": " << l.min << ", \"max\": " << l.max << ", \"mean\": " << num(l.mean)
        << ", \"median\": " << num(l.median) << "}";
      first = false;
    }
    o << "},\n    \"skipped\": [";
    for (size_t i = 0; i < s.skipped.size(); ++i) {
      const SkippedRow& k = s.skipped[i];
      o << (i ? ", " : "") << "{\"file\": " << json_escape(k.label_file) << ", \"line\": " << k.line
        << ", \"id\": " << json_escape(k.id) << ", \"reason\": " << json_escape(k.reason) << "}";
    }
    o << "],\n    \"dropped_by_mapping\": {\"train\": " << json_counts(s.dropped_train)
      << ", \"test\": " << json_counts(s.dropped_test) << "},\n    \"gzip_files\": " << s.gzip_files
      << ",\n    \"unlisted_files\": " << s.unlisted_files << "\n  }";
  }
  o << "\n}\n";
  return o.str();
}

std::string data_stats_text(const DataStats& stats) {
  std::ostringstream o;
  o << "data: " << stats.data_dir << "   (splits seeded with " << stats.seed << ")\n";
  char line[256];
  for (const SubsetStats& s : stats.subsets) {
    o << "\n== " << subset_key(s.subset) << " (" << subset_folder(s.subset) << ")\n";
    if (is_genre_subset(s.subset)) {
      std::snprintf(line, sizeof line, "  %-12s %7s %7s %7s\n", "class", "train", "val", "test");
      o << line;
      for (const std::string& c : genre_classes()) {
        std::snprintf(line, sizeof line, "  %-12s %7lld %7lld %7lld\n", c.c_str(),
                      static_cast<long long>(s.classes.at("train").at(c)),
                      static_cast<long long>(s.classes.at("val").at(c)),
                      static_cast<long long>(s.classes.at("test").at(c)));
        o << line;
      }
    }
    o << "  clips:";
    for (const std::string& split : s.split_names) o << "  " << split << " " << s.counts.at(split);
    o << "\n  lengths (frames):\n";
    for (const std::string& split : s.split_names) {
      const LengthStats& l = s.lengths.at(split);
      std::snprintf(line, sizeof line, "    %-10s min %5lld  max %5lld  mean %8.1f  median %7.1f\n",
                    split.c_str(), static_cast<long long>(l.min), static_cast<long long>(l.max),
                    l.mean, l.median);
      o << line;
    }
    int64_t dropped = 0;
    for (const auto& [g, n] : s.dropped_train) dropped += n;
    for (const auto& [g, n] : s.dropped_test) dropped += n;
    if (dropped) {
      o << "  dropped by CLASS_MAPPING: " << dropped << " rows (";
      bool first = true;
      std::map<std::string, int64_t> all = s.dropped_train;
      for (const auto& [g, n] : s.dropped_test) all[g] += n;
      for (const auto& [g, n] : all) {
        o << (first ? "" : ", ") << g << " " << n;
        first = false;
      }
      o << ")\n";
    }
    o << "  gzip files: " << s.gzip_files << ", files without a label row: " << s.unlisted_files
      << "\n";
    o << "  skipped rows: " << s.skipped.size() << "\n";
    for (const SkippedRow& k : s.skipped)
      o << "    " << k.label_file << " line " << k.line << " (id " << k.id << "): " << k.reason
        << "\n";
  }
  return o.str();
}

}  // namespace melgrad::data
