// `melgrad transfer`: a regression CNN that starts from a trained genre CNN (its conv trunk
// and first FC layer; the last two FC layers 128 -> 64 -> 1 are fresh), fine-tuned on one
// attribute, optionally with the trunk frozen. The genre run decides the trunk, the
// features, the sub-set (full or beat) and the input frames.
#include "experiments/experiment_cli.h"

namespace melgrad {
namespace {

int run_transfer(const cli::Args& args) {
  experiments::ExperimentSpec spec = experiments::spec_from_args(args, "transfer", "cnn");
  const std::string target = args.str("target");
  if (target != "valence" && target != "energy" && target != "danceability")
    throw cli::UsageError("option --target expects valence, energy or danceability, got '" + target + "'");
  spec.targets = {target};
  spec.transfer_from = args.str("from");
  spec.freeze_trunk = args.flag("freeze-trunk");
  if (spec.mode != experiments::RunDirMode::resume && spec.transfer_from.empty())
    throw cli::UsageError("missing option --from GENRE_RUN (a finished `melgrad genre --model cnn` run folder)");
  return experiments::run_training_command(args, spec);
}

const cli::CommandRegistrar reg({
    .name = "transfer",
    .summary = "fine-tune a trained genre CNN on valence (transfer learning)",
    .options = experiments::training_options_with(
        {{"from", "GENRE_RUN: run folder of a genre CNN (its best.h5 and config.json)", ""},
         {"target", "valence | energy | danceability", "valence"},
         {"freeze-trunk", "keep the convolutional trunk fixed (train the FC layers only)", "", true}}),
    .positional_help = "",
    .run = run_transfer,
});

}  // namespace
}  // namespace melgrad
