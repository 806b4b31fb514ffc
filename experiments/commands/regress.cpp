// `melgrad regress`: regression of one affective attribute (valence, energy or
// danceability) on the multitask sub-set with the CNN or the BiLSTM.
#include "experiments/experiment_cli.h"
#include "experiments/seeds.h"

namespace melgrad {
namespace {

int run_regress(const cli::Args& args) {
  experiments::check_seeds_option(args);  // before the data set is resolved
  experiments::ExperimentSpec spec = experiments::spec_from_args(
      args, experiments::ExperimentKind::regress, experiments::model_option(args));
  const std::string target = args.str("target");
  if (target != "valence" && target != "energy" && target != "danceability")
    throw cli::UsageError("option --target expects valence, energy or danceability, got '" +
                          target + "'");
  spec.targets = {target};
  spec.loss = args.str("loss");
  if (spec.loss != "mse" && spec.loss != "l1" && spec.loss != "smooth_l1")
    throw cli::UsageError("option --loss expects mse, l1 or smooth_l1, got '" + spec.loss + "'");
  return experiments::run_training_command(args, spec);
}

const cli::CommandRegistrar reg({
    .name = "regress",
    .summary = "train and test a valence/energy/danceability regressor (CNN or BiLSTM)",
    .options = experiments::training_options_with({experiments::seeds_option(),
                                                   {"model", "cnn | lstm", "cnn"},
                                                   {"target", "valence | energy | danceability",
                                                    "valence"},
                                                   {"loss", "mse | l1 | smooth_l1", "mse"}}),
    .positional_help = "",
    .run = run_regress,
});

}  // namespace
}  // namespace melgrad
