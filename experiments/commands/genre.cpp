// `melgrad genre`: genre classification (10 classes after CLASS_MAPPING) with the CNN or the
// BiLSTM on mel, chroma or fused features of full or beat-synchronised clips.
#include "experiments/experiment_cli.h"
#include "experiments/seeds.h"

namespace melgrad {
namespace {

int run_genre(const cli::Args& args) {
  experiments::check_seeds_option(args);  // before the data set is resolved
  experiments::ExperimentSpec spec = experiments::spec_from_args(
      args, experiments::ExperimentKind::genre, experiments::model_option(args));
  return experiments::run_training_command(args, spec);
}

const cli::CommandRegistrar reg({
    .name = "genre",
    .summary = "train and test a genre classifier (CNN or BiLSTM)",
    .options = experiments::training_options_with({experiments::seeds_option(),
                                                   {"model", "cnn | lstm", "cnn"}}),
    .positional_help = "",
    .run = run_genre,
});

}  // namespace
}  // namespace melgrad
