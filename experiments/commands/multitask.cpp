// `melgrad multitask`: one CNN trunk shared by three heads (valence, energy, danceability),
// trained on the weighted sum of their MSE losses (default 0.5, 0.1, 0.4 as the study).
#include "experiments/experiment_cli.h"
#include "experiments/model_config.h"
#include "experiments/seeds.h"

namespace melgrad {
namespace {

int run_multitask(const cli::Args& args) {
  experiments::check_seeds_option(args);  // before the data set is resolved
  experiments::ExperimentSpec spec =
      experiments::spec_from_args(args, experiments::ExperimentKind::multitask, "cnn");
  spec.targets = {"valence", "energy", "danceability"};
  spec.target_weights = experiments::parse_number_list(args.str("weights"), "weights");
  if (spec.target_weights.size() != 3)
    throw cli::UsageError(
        "option --weights expects three numbers (valence, energy, danceability), got '" +
        args.str("weights") + "'");
  for (double w : spec.target_weights)
    if (!(w >= 0)) throw cli::UsageError("option --weights: weights must be >= 0");
  return experiments::run_training_command(args, spec);
}

const cli::CommandRegistrar reg({
    .name = "multitask",
    .summary = "train and test a multitask CNN (valence, energy, danceability heads)",
    .options = experiments::training_options_with(
        {experiments::seeds_option(),
         {"weights", "loss weights for valence,energy,danceability", "0.5,0.1,0.4"}}),
    .positional_help = "",
    .run = run_multitask,
});

}  // namespace
}  // namespace melgrad
