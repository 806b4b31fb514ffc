// `melgrad show CLIP.npy --out FILE.svg|png`: draws one clip of the data set's format — the
// log-mel spectrogram and the chromagram as heat maps (experiments/clip_figure.h). SVG has
// axes and colour bars; PNG is the bare picture. Never overwrites --out without --force.
#include <cstdio>
#include <filesystem>

#include "datasets/file_io.h"
#include "datasets/npy.h"
#include "experiments/cli.h"
#include "experiments/clip_figure.h"

namespace melgrad {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext;
}

int run_show(const cli::Args& a) {
  if (a.positionals().size() != 1)
    throw cli::UsageError("give exactly one clip file (CLIP.npy or CLIP.npy.gz)");
  const std::string clip_path = a.positionals()[0];
  const fs::path out = a.str("out");
  const std::string ext = lower_extension(out);
  if (ext != ".svg" && ext != ".png")
    throw cli::UsageError("option --out must end in .svg or .png, got " + out.string());
  if (fs::exists(out) && !a.flag("force"))
    throw cli::UsageError(out.string() + " exists; pass --force to replace it");
  const data::NpyArray clip = data::read_npy(clip_path);
  if (clip.shape.size() != 2)
    throw std::runtime_error(clip_path + ": expected a 2-D array (140, T), found shape " +
                             data::npy_shape_string(clip.shape));
  const int64_t rows = clip.shape[0], frames = clip.shape[1];
  const std::string name = fs::path(clip_path).filename().string();
  figures::ClipPlot plot;
  plot.beat = a.flag("beat") || name.find("beat") != std::string::npos;
  plot.title = a.has("title") ? a.str("title") : name;
  if (ext == ".svg") {
    data::write_file_atomic(out.string(), figures::clip_svg(clip.data, rows, frames, plot) + "\n");
  } else {
    png::write_file(out.string(), figures::clip_png(clip.data, rows, frames));
  }
  std::printf("wrote %s (%lld x %lld%s)\n", out.string().c_str(), static_cast<long long>(rows),
              static_cast<long long>(frames), plot.beat ? ", beat-synchronised" : "");
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "show",
    .summary = "draw one clip's mel spectrogram and chromagram as an SVG or PNG heat map",
    .options =
        {
            {"out", "FILE.svg (axes, colour bars) or FILE.png (the bare picture)", "", false, true},
            {"beat", "x counts beats (default: when the file name says 'beat')", "", true, false},
            {"title", "title above the picture (default: the file name)", "", false, false},
            {"force", "replace --out if it exists", "", true, false},
        },
    .positional_help = "CLIP.npy",
    .run = run_show,
});

}  // namespace
}  // namespace melgrad
