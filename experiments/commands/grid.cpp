// `melgrad grid`: the study's LSTM regression grid search (REFERENCE §2). The full grid is
// 36 LSTM runs; narrow it with --hidden/--layers/--lrs/--losses.
#include "experiments/grid.h"

#include <cstdio>

#include "experiments/distributed.h"
#include "experiments/experiment_cli.h"
#include "experiments/interrupt.h"
#include "experiments/model_config.h"
#include "experiments/recipe_seed.h"

namespace melgrad {
namespace {

using namespace experiments;

int run_grid_command(const cli::Args& a) {
  GridSpec g;
  g.base = spec_from_args(a, ExperimentKind::regress, "lstm");
  g.target = a.str("target");
  if (g.target != "valence" && g.target != "energy" && g.target != "danceability")
    throw cli::UsageError("option --target expects valence, energy or danceability, got '" +
                          g.target + "'");
  g.hidden = parse_int_list(a.str("hidden-sizes"), "hidden-sizes");
  g.layers = parse_int_list(a.str("layer-counts"), "layer-counts");
  g.lrs = parse_number_list(a.str("lrs"), "lrs");
  g.losses = split_list(a.str("losses"));
  if (parse_recipe(a.str("recipe")) == "seed" && g.base.mode != RunDirMode::resume)
    apply_seed_grid_recipe(g, given_options(a));
  for (const std::string& l : g.losses)
    if (l != "mse" && l != "l1" && l != "smooth_l1")
      throw cli::UsageError("option --losses expects mse, l1, smooth_l1, got '" + l + "'");
  // mpirun: rank 0 alone makes the default folder (default_run_dir creates it) and names it.
  g.out = g.base.out.empty() && dist::world().rank() == 0 ? default_run_dir("grid") : g.base.out;
  dist::world().broadcast_bytes(g.out, 0);
  g.resume = g.base.mode == RunDirMode::resume;
  if (g.base.mode == RunDirMode::force)
    throw cli::UsageError("grid: --force is not supported; use another --out");
  apply_threads(a.integer("threads"));
  try {
    nlohmann::json m = run_grid(g);
    std::printf("grid: best cell %s, test Spearman %s; grid.json in %s\n",
                m["best"].is_null() ? "none" : m["best"]["dir"].get<std::string>().c_str(),
                m["spearman"][g.target].dump().c_str(), g.out.c_str());
    return 0;
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "%s\ngrid: continue with the same command and --resume\n", e.what());
    return 130;
  }
}

const cli::CommandRegistrar reg({
    .name = "grid",
    .summary = "LSTM regression grid search (hidden x layers x lr x loss) on one attribute",
    .options = training_options_with({{"target", "valence | energy | danceability", "valence"},
                                      {"hidden-sizes", "LSTM hidden sizes to try", "200,600"},
                                      {"layer-counts", "LSTM layer counts to try", "2,3,5"},
                                      {"lrs", "learning rates to try", "1e-5,5e-6"},
                                      {"losses", "losses to try: mse, l1, smooth_l1",
                                       "mse,l1,smooth_l1"}}),
    .positional_help = "",
    .run = run_grid_command,
});

}  // namespace
}  // namespace melgrad
