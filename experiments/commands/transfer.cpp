// `melgrad transfer`: a regression CNN that starts from a trained genre CNN (its conv trunk
// and first FC layer; the last two FC layers 128 -> 64 -> 1 are fresh), fine-tuned on one
// attribute, optionally with the trunk frozen. The genre run decides the trunk (with its
// BatchNorm and dropout), the features, the sub-set (full or beat) and the input frames; an option
// the user gave that disagrees with the genre run is a usage error (exit 2), not silently
// overridden.
#include <cstdio>
#include <filesystem>

#include "experiments/experiment_cli.h"
#include "experiments/model_config.h"
#include "experiments/seeds.h"

namespace melgrad {
namespace {

namespace fs = std::filesystem;

// Compares --features, --beat, --frames, --channels, --pool, --dropout, --no-batch-norm and
// --running-stats, where given, with the genre run's config.json (a missing config.json is
// reported later, by the run itself).
void check_options_match_genre_run(const cli::Args& args, const std::string& from) {
  const fs::path config_path = fs::path(from) / "config.json";
  if (!fs::is_regular_file(config_path)) return;
  const nlohmann::json src = experiments::read_json_file(config_path.string());
  auto conflict = [&](const std::string& option, const std::string& given,
                      const std::string& genre_value) {
    throw cli::UsageError("option --" + option + given + " conflicts with the genre run '" + from +
                          "', which used " + genre_value +
                          "; transfer takes it from that run (leave --" + option + " out)");
  };
  const std::string features = src.value("features", std::string());
  if (args.has("features") && args.str("features") != features)
    conflict("features", " " + args.str("features"), "--features " + features);
  if (args.flag("beat") && !src.value("beat", false))
    conflict("beat", "", "full clips (no --beat)");
  if (!src.contains("model_config")) return;
  const nlohmann::json& mc = src["model_config"];
  if (args.has("frames") && mc.contains("frames") &&
      args.integer("frames") != mc["frames"].get<int64_t>())
    conflict("frames", " " + args.str("frames"),
             "--frames " + std::to_string(mc["frames"].get<int64_t>()));
  if (args.has("pool") && mc.contains("pool") && args.integer("pool") != mc["pool"].get<int64_t>())
    conflict("pool", " " + args.str("pool"), "--pool " + std::to_string(mc["pool"].get<int64_t>()));
  if (args.has("channels") && mc.contains("channels") &&
      experiments::parse_int_list(args.str("channels"), "channels") !=
          mc["channels"].get<std::vector<int64_t>>()) {
    std::string theirs;
    for (const nlohmann::json& c : mc["channels"])
      theirs += (theirs.empty() ? "" : ",") + std::to_string(c.get<int64_t>());
    conflict("channels", " " + args.str("channels"), "--channels " + theirs);
  }
  if (args.has("dropout") && mc.contains("dropout") &&
      args.number("dropout") != mc["dropout"].get<double>()) {
    char theirs[32];
    std::snprintf(theirs, sizeof theirs, "%g", mc["dropout"].get<double>());
    conflict("dropout", " " + args.str("dropout"), std::string("--dropout ") + theirs);
  }
  if (args.flag("no-batch-norm") && mc.value("batch_norm", false))
    conflict("no-batch-norm", "", "BatchNorm2d (no --no-batch-norm)");
  if (args.flag("running-stats") && mc.contains("track_running_stats") &&
      !mc["track_running_stats"].get<bool>())
    conflict("running-stats", "", "batch statistics (no --running-stats)");
}

int run_transfer(const cli::Args& args) {
  // Before spec_from_args, which may generate the default data set.
  experiments::check_seeds_option(args);
  if (!args.flag("resume") && args.has("from"))
    check_options_match_genre_run(args, args.str("from"));
  experiments::ExperimentSpec spec =
      experiments::spec_from_args(args, experiments::ExperimentKind::transfer, "cnn");
  const std::string target = args.str("target");
  if (target != "valence" && target != "energy" && target != "danceability")
    throw cli::UsageError("option --target expects valence, energy or danceability, got '" +
                          target + "'");
  spec.targets = {target};
  spec.transfer_from = args.str("from");
  spec.freeze_trunk = args.flag("freeze-trunk");
  if (spec.mode != experiments::RunDirMode::resume && spec.transfer_from.empty())
    throw cli::UsageError(
        "missing option --from GENRE_RUN (a finished `melgrad genre --model cnn` run folder)");
  return experiments::run_training_command(args, spec);
}

const cli::CommandRegistrar reg({
    .name = "transfer",
    .summary = "fine-tune a trained genre CNN on valence (transfer learning)",
    .options = experiments::training_options_with(
        {experiments::seeds_option(),
         {"from",
          "GENRE_RUN: run folder of a genre CNN (its best.h5 and config.json); it decides "
          "--features, --beat, --frames, --channels, --pool, --dropout, --no-batch-norm and "
          "--running-stats",
          ""},
         {"target", "valence | energy | danceability", "valence"},
         {"freeze-trunk", "keep the convolutional trunk fixed (train the FC layers only)", "",
          true}}),
    .positional_help = "",
    .run = run_transfer,
});

}  // namespace
}  // namespace melgrad
