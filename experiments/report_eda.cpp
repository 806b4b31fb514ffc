// The report's exploratory section, as the study's own data exploration: one clip per genre
// drawn full and beat-synchronised (mel spectrogram and chromagram, clip_figure.h), the class
// counts before and after CLASS_MAPPING, the histogram of clip lengths, and the valence /
// energy / danceability distributions with their correlations. Read from the data folder
// study.json names; a missing or unreadable folder leaves a note instead of the section.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "datasets/genres.h"
#include "datasets/labels.h"
#include "datasets/npy.h"
#include "datasets/patreco3.h"
#include "experiments/clip_figure.h"
#include "experiments/metrics.h"
#include "experiments/report_content.h"
#include "experiments/svg_charts.h"

namespace fs = std::filesystem;

namespace melgrad::report {
namespace {

const char* const kTargets[3] = {"valence", "energy", "danceability"};

// The data folder, with the full-clip genre sub-set scanned once for the parts that need it.
struct DataFolder {
  std::string dir;
  std::optional<data::SubsetIndex> genre_index;
  const data::SubsetIndex& genre() {
    if (!genre_index) genre_index = data::scan_subset(dir, data::Subset::genre);
    return *genre_index;
  }
};

std::string clip_figure_svg(const std::string& path, bool beat, const std::string& title) {
  const data::NpyArray a = data::read_npy(path);
  if (a.shape.size() != 2)
    throw data::DataError(path + ": expected shape (140, T), found " +
                          data::npy_shape_string(a.shape));
  figures::ClipPlot plot;
  plot.title = title;
  plot.beat = beat;
  plot.width = 470;
  plot.max_columns = 400;
  return figures::clip_svg(a.data, a.shape[0], a.shape[1], plot);
}

// One training clip per class (the first in the label file), full and beat-synchronised.
void add_clip_figures(Section& s, DataFolder& folder) {
  const data::SubsetIndex& full = folder.genre();
  std::map<std::string, std::string> beat_path;  // id -> beat-synchronised file
  try {
    for (const data::ClipEntry& e : data::scan_subset(folder.dir, data::Subset::genre_beat).clips)
      beat_path[e.id] = e.path;
  } catch (const std::exception&) {
    s.blocks.push_back(
        Paragraph{"The beat-synchronised genre sub-set could not be read: full clips only.", true});
  }
  const std::vector<std::string>& classes = data::genre_classes();
  std::vector<const data::ClipEntry*> pick(classes.size(), nullptr);
  for (const data::ClipEntry& e : full.clips)
    if (e.source == data::ClipSource::train_folder && e.label >= 0 &&
        size_t(e.label) < pick.size() && !pick[size_t(e.label)])
      pick[size_t(e.label)] = &e;
  for (size_t c = 0; c < classes.size(); ++c) {
    if (!pick[c]) continue;
    const data::ClipEntry& e = *pick[c];
    FigureRow row;
    row.push_back({clip_figure_svg(e.path, false, classes[c] + " — clip " + e.id), "full clip"});
    if (auto it = beat_path.find(e.id); it != beat_path.end())
      row.push_back({clip_figure_svg(it->second, true,
                                     classes[c] + " — clip " + e.id + ", beat-synchronised"),
                     "beat-synchronised"});
    s.blocks.push_back(std::move(row));
  }
}

// Rows per raw genre in both label files, and per class after CLASS_MAPPING.
void add_class_counts(Section& s, DataFolder& folder) {
  const std::string root = data::subset_root(folder.dir, data::Subset::genre);
  std::map<std::string, int64_t> raw;
  std::vector<int64_t> mapped(data::genre_classes().size(), 0);
  for (const char* file : {"train_labels.txt", "test_labels.txt"})
    for (const data::GenreLabelRow& row :
         data::read_genre_labels((fs::path(root) / file).string())) {
      ++raw[row.genre];
      if (row.label >= 0 && size_t(row.label) < mapped.size()) ++mapped[size_t(row.label)];
    }
  svg::BarChart before{.title = "Label rows per genre before CLASS_MAPPING (train + test)",
                       .value_label = "rows"};
  svg::BarSeries bs{.name = "rows"};
  for (const auto& [genre, n] : raw) {
    const int m = data::map_genre(genre);
    before.categories.push_back(genre + (m < 0 ? " (dropped)" : ""));
    bs.values.push_back(double(n));
  }
  before.series.push_back(bs);
  before.value_decimals = 0;
  svg::BarChart after{.title = "Label rows per class after CLASS_MAPPING", .value_label = "rows"};
  svg::BarSeries as{.name = "rows"};
  for (size_t c = 0; c < mapped.size(); ++c) {
    after.categories.push_back(data::genre_classes()[c]);
    as.values.push_back(double(mapped[c]));
  }
  after.series.push_back(as);
  after.value_decimals = 0;
  before.width = after.width = 470;
  s.blocks.push_back(FigureRow{{svg::bar_chart(before), "raw genres in the label files"},
                               {svg::bar_chart(after), "the 10 classes the study trains on"}});
  Table t{.header = {"raw genre", "rows", "class after mapping"}, .markdown_only = true};
  for (const auto& [genre, n] : raw) {
    const int m = data::map_genre(genre);
    t.rows.push_back({{genre},
                      number_cell(double(n), 0),
                      m < 0 ? Cell{"dropped", "na"} : Cell{data::genre_classes()[size_t(m)]}});
  }
  s.blocks.push_back(std::move(t));
}

// Histogram of T (frames) over the full genre clips, from the files' headers.
void add_length_histogram(Section& s, DataFolder& folder) {
  std::vector<int64_t> lengths;
  for (const data::ClipEntry& e : folder.genre().clips) {
    const data::NpyHeader h = data::read_npy_header(e.path);
    if (h.shape.size() == 2) lengths.push_back(h.shape[1]);
  }
  if (lengths.empty()) return;
  const auto [lo_it, hi_it] = std::minmax_element(lengths.begin(), lengths.end());
  const int64_t lo = *lo_it, hi = *hi_it, bins = std::min<int64_t>(12, hi - lo + 1);
  const double width = double(hi - lo + 1) / double(bins);
  std::vector<double> counts(size_t(bins), 0.0);
  for (int64_t t : lengths)
    counts[size_t(std::min<int64_t>(bins - 1, int64_t(double(t - lo) / width)))] += 1;
  svg::BarChart chart{.title = "Full clips by length (frames; 43 frames ≈ 1 s)",
                      .value_label = "clips"};
  svg::BarSeries series{.name = "clips"};
  for (int64_t b = 0; b < bins; ++b) {
    const auto first = int64_t(std::ceil(double(lo) + double(b) * width));
    const auto last = int64_t(std::ceil(double(lo) + double(b + 1) * width)) - 1;
    chart.categories.push_back(first == last ? std::to_string(first)
                                             : std::to_string(first) + "–" + std::to_string(last));
    series.values.push_back(counts[size_t(b)]);
  }
  chart.series.push_back(series);
  chart.value_decimals = 0;
  chart.width = 470;
  const std::string caption = std::to_string(lengths.size()) + " clips, " + std::to_string(lo) +
                              " to " + std::to_string(hi) + " frames";
  s.blocks.push_back(FigureRow{{svg::bar_chart(chart), caption}});
  s.blocks.push_back(Paragraph{"Full clip lengths: " + caption + "."});
}

// Valence / energy / danceability of the labelled multitask clips: histograms and correlations.
void add_affect(Section& s, DataFolder& folder) {
  const std::string root = data::subset_root(folder.dir, data::Subset::multitask);
  const std::vector<data::MultitaskLabelRow> rows =
      data::read_multitask_labels((fs::path(root) / "train_labels.txt").string());
  if (rows.size() < 3) return;
  std::vector<std::vector<double>> v(3);
  for (const data::MultitaskLabelRow& r : rows)
    for (int k = 0; k < 3; ++k) v[size_t(k)].push_back(r.targets[size_t(k)]);
  svg::BarChart hist{.title = "Distribution of the affective targets (" +
                              std::to_string(rows.size()) + " labelled clips)",
                     .value_label = "clips"};
  for (int b = 0; b < 10; ++b)
    hist.categories.push_back(format_number(b / 10.0, 1) + "–" + format_number((b + 1) / 10.0, 1));
  for (int k = 0; k < 3; ++k) {
    svg::BarSeries series{.name = kTargets[k], .values = std::vector<double>(10, 0.0)};
    for (double x : v[size_t(k)]) series.values[size_t(std::clamp(int(x * 10), 0, 9))] += 1;
    hist.series.push_back(series);
  }
  hist.value_decimals = 0;
  hist.width = 470;
  svg::Heatmap corr{.title = "Spearman correlation between targets", .x_label = "", .y_label = ""};
  Table t;
  t.header = {"", kTargets[0], kTargets[1], kTargets[2]};
  for (int a = 0; a < 3; ++a) {
    corr.row_labels.push_back(kTargets[a]);
    corr.col_labels.push_back(kTargets[a]);
    std::vector<double> line;
    std::vector<Cell> cells{{kTargets[a]}};
    for (int b = 0; b < 3; ++b) {
      const double rho = metrics::spearman(v[size_t(a)], v[size_t(b)]).rho;
      line.push_back(std::round(rho * 100) / 100);
      cells.push_back(number_cell(rho, 2));
    }
    corr.values.push_back(line);
    t.rows.push_back(std::move(cells));
  }
  corr.colour_by_row = false;
  corr.cell = 70;
  s.blocks.push_back(FigureRow{{svg::bar_chart(hist), "histograms in bins of 0.1"},
                               {svg::heatmap_chart(corr), "Spearman's rho (table below)"}});
  t.markdown_only = false;
  s.blocks.push_back(t);
}

}  // namespace

Section eda_section(const StudyData& study) {
  Section s{.id = "data", .title = "The data"};
  const std::string dir = study.dataset.path;
  if (dir.empty() || !fs::is_directory(dir)) {
    s.blocks.push_back(Paragraph{"The data folder " +
                                     (dir.empty() ? std::string("(not recorded)") : dir) +
                                     " is not available here: the exploratory figures need it.",
                                 true});
    return s;
  }
  s.blocks.push_back(Paragraph{
      "What the networks see: one training clip per genre as a log-mel spectrogram (dB, 128 Slaney "
      "mel bands) and a chromagram (12 pitch classes), full and beat-synchronised (the median over "
      "the frames between beats); then the class counts, clip lengths and affective targets."});
  DataFolder folder{dir, std::nullopt};
  using Part = void (*)(Section&, DataFolder&);
  for (const auto& [what, part] :
       std::vector<std::pair<std::string, Part>>{{"clip pictures", add_clip_figures},
                                                 {"class counts", add_class_counts},
                                                 {"clip lengths", add_length_histogram},
                                                 {"affective targets", add_affect}}) {
    try {
      part(s, folder);
    } catch (const std::exception& e) {
      s.blocks.push_back(Paragraph{what + ": not shown (" + e.what() + ")", true});
    }
  }
  return s;
}

}  // namespace melgrad::report
