// Data-parallel training end to end: `mpirun -np 2 melgrad genre ...` (2 cores,
// oversubscribed) against `melgrad genre ...` on the tiny generated data set (192 train
// clips: 6 Adam steps of a global batch of 32, each rank 16 clips), resuming with another
// number of ranks, a rank killed or stopped mid-run, and ranks started differently.
#include <doctest/doctest.h>
#include <signal.h>

#include <cmath>
#include <set>

#include "engine/io/tensor_file.h"
#include "tests/dist/mpirun_util.h"
#include "tests/e2e/e2e_util.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kMpirun2 = {"--allow-run-as-root", "--oversubscribe", "-np", "2"};

// A small CNN without BatchNorm and dropout: every difference between the runs is then the
// order of float32 sums.
std::vector<std::string> genre_args(const fs::path& out, int epochs,
                                    std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {"--batch-size", "32", "--dropout", "0", "--no-batch-norm"});
  return tiny_cnn_genre_args(out, epochs, extra);
}

std::map<std::string, std::vector<double>> model_tensors(const fs::path& file) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, t] : melgrad::io::load_tensor_file(file.string()).tensors)
    if (name.rfind("model.", 0) == 0) out[name] = t.to_vector();
  return out;
}

// Largest |a - b| over the parameters of two last.h5 files, but those named in `skip`.
double max_parameter_difference(const fs::path& a, const fs::path& b,
                                const std::set<std::string>& skip = {}) {
  const auto ta = model_tensors(a), tb = model_tensors(b);
  REQUIRE(ta.size() == tb.size());
  double worst = 0;
  for (const auto& [name, va] : ta) {
    if (skip.count(name)) continue;
    const std::vector<double>& vb = tb.at(name);
    REQUIRE(va.size() == vb.size());
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  }
  return worst;
}

// Adam moves a parameter by about lr (1e-4) per step whatever the gradient's size (m /
// sqrt(v)). Summing each rank's 16 clips and then the two ranks instead of 32 clips in one
// sum changes a gradient by a few float32 ulps of its largest terms; where the terms cancel
// (a gradient near its own rounding error) that is a large relative change, and Adam turns
// it into a step of up to lr in another direction. Measured: at most 1.0e-7 after 6 steps
// (1/1000 of one step). The bound, 1e-6 (1/100 of a step), still fails a run that drops a
// rank's gradient (steps change by ~lr). The exact weighting of the sum is checked on
// gradients themselves, without Adam, by test_dist_buckets.
constexpr double kParameterTolerance = 1e-6;

}  // namespace

TEST_CASE(
    "2 ranks x 16 clips train as 1 process x 32; reruns of the 2-rank run are bit-identical") {
  const fs::path single = scratch() / "single", two = scratch() / "two",
                 again = scratch() / "two-again";
  Result s = run(genre_args(single, 1));
  INFO(s.err);
  REQUIRE(s.code == 0);
  Result p = mpirun(2, genre_args(two, 1));
  INFO(p.err);
  REQUIRE(p.code == 0);
  CHECK(p.err.find("2 ranks") != std::string::npos);
  // Rank 0 alone prints: one summary line.
  CHECK(std::count(p.out.begin(), p.out.end(), '\n') == 1);
  REQUIRE(mpirun(2, genre_args(again, 1)).code == 0);

  CHECK(max_parameter_difference(single / "last.h5", two / "last.h5") < kParameterTolerance);
  CHECK(max_parameter_difference(two / "last.h5", again / "last.h5") == 0);
  CHECK(model_tensors(two / "best.h5") == model_tensors(again / "best.h5"));

  // Validation and test over the whole split: the same predictions (float32 outputs of the
  // same weights), accuracy equal, losses to float32 summation order.
  const json ls = log_lines(single)[0], lp = log_lines(two)[0];
  CHECK(lp["val_accuracy"] == ls["val_accuracy"]);
  CHECK(lp["val_loss"].get<double>() ==
        doctest::Approx(ls["val_loss"].get<double>()).epsilon(1e-6));
  CHECK(lp["train_loss"].get<double>() ==
        doctest::Approx(ls["train_loss"].get<double>()).epsilon(1e-6));
  const json ms = timeless(read_json(single / "metrics.json")),
             mp = timeless(read_json(two / "metrics.json"));
  CHECK(mp == ms);
  CHECK(read_json(two / "predictions.json").size() ==
        read_json(single / "predictions.json").size());
}

TEST_CASE("--resume continues with another number of ranks: 2 -> 1 and 1 -> 2") {
  const fs::path straight = scratch() / "straight3";
  REQUIRE(run(genre_args(straight, 3)).code == 0);
  for (const auto& [first, second] : {std::pair{2, 1}, std::pair{1, 2}}) {
    const fs::path dir =
        scratch() / ("resume-" + std::to_string(first) + "-" + std::to_string(second));
    auto start = [&](int ranks, std::vector<std::string> a) {
      return ranks == 1 ? run(a) : mpirun(ranks, a);
    };
    REQUIRE(start(first, genre_args(dir, 1)).code == 0);
    Result r = start(second, genre_args(dir, 3, {"--resume"}));
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("resuming after epoch 1") != std::string::npos);
    CHECK(log_lines(dir).size() == 3);
    CHECK(max_parameter_difference(straight / "last.h5", dir / "last.h5") <
          3 * kParameterTolerance);
  }
}

TEST_CASE("ranks started with different options are refused, naming the option") {
  std::vector<std::string> a = {"--allow-run-as-root", "--oversubscribe", "-np", "1",
                                melgrad_exe().string()};
  const std::vector<std::string> r0 = genre_args(scratch() / "mismatch", 1, {"--lr", "1e-3"});
  const std::vector<std::string> r1 = genre_args(scratch() / "mismatch", 1, {"--lr", "2e-3"});
  a.insert(a.end(), r0.begin(), r0.end());
  a.insert(a.end(), {":", "-np", "1", melgrad_exe().string()});
  a.insert(a.end(), r1.begin(), r1.end());
  Result r = run(a, MELGRAD_MPIEXEC);
  INFO(r.err);
  CHECK(r.code != 0);
  CHECK(
      r.err.find(
          "rank 1 was started with a different configuration than rank 0: config.json field /lr") !=
      std::string::npos);
  CHECK(!fs::exists(scratch() / "mismatch" / "log.jsonl"));
}

TEST_CASE(
    "sharded validation of a BatchNorm network (batch statistics in eval) is the single "
    "process's") {
  // Each rank evaluates whole batches of the split, so the batch statistics are the ones a
  // single process uses: `melgrad evaluate` (one process) on the run's best.h5 (epoch 1)
  // scores the validation accuracy the 2-rank run logged.
  const fs::path dir = scratch() / "bn-two";
  std::vector<std::string> a = genre_args(dir, 1);
  a.erase(std::find(a.begin(), a.end(), "--no-batch-norm"));
  *(std::find(a.begin(), a.end(), "--batch-size") + 1) = "20";  // 96 val clips: batches 3 + 2
  Result p = mpirun(2, a);
  INFO(p.err);
  REQUIRE(p.code == 0);
  Result val =
      run({"evaluate", "--run", dir.string(), "--split", "val", "--json", "--threads", "1"});
  INFO(val.err);
  REQUIRE(val.code == 0);
  CHECK(json::parse(val.out)["accuracy"].get<double>() ==
        doctest::Approx(log_lines(dir)[0]["val_accuracy"].get<double>()).epsilon(1e-12));
  const json test = timeless(read_json(dir / "metrics.json"));
  Result t = run({"evaluate", "--run", dir.string(), "--json", "--threads", "1"});
  REQUIRE(t.code == 0);
  CHECK(json::parse(t.out)["confusion"] == test["confusion"]);
}

TEST_CASE(
    "--sync-bn: BatchNorm over the global batch trains as 1 process; per-rank statistics do not") {
  const fs::path single = scratch() / "bn-single", synced = scratch() / "bn-sync",
                 per_rank = scratch() / "bn-rank";
  auto with_batch_norm = [](std::vector<std::string> a) {
    a.erase(std::find(a.begin(), a.end(), "--no-batch-norm"));
    return a;
  };
  REQUIRE(run(with_batch_norm(genre_args(single, 1))).code == 0);
  Result s = mpirun(2, with_batch_norm(genre_args(synced, 1, {"--sync-bn"})));
  INFO(s.err);
  REQUIRE(s.code == 0);
  REQUIRE(mpirun(2, with_batch_norm(genre_args(per_rank, 1))).code == 0);
  // The statistics are sums over the global batch taken in another order (per rank, then
  // over ranks; two passes of composite ops instead of the fused kernel's) and feed every
  // activation after the first layer, so gradients where terms cancel move more than
  // without BatchNorm: measured 4.4e-6 (classifier.0.weight: features of the padded frames,
  // nearly constant over clips), every other tensor <= 1.5e-7. Bound: 2e-5 (1/5 of a step);
  // per-rank statistics are off by ~1e-3. Left out: the biases of the convolutions feeding
  // a BatchNorm (features.0, features.4), whose gradient is exactly zero (the normalisation
  // subtracts the mean), so its float32 value is rounding noise that Adam turns into full
  // steps of either sign (up to 6e-4 after 6 steps, in any two runs).
  constexpr double kSyncTolerance = 2e-5;
  const std::set<std::string> zero_gradient = {"model.features.0.bias", "model.features.4.bias"};
  CHECK(max_parameter_difference(single / "last.h5", synced / "last.h5", zero_gradient) <
        kSyncTolerance);
  CHECK(max_parameter_difference(single / "last.h5", per_rank / "last.h5", zero_gradient) >
        10 * kSyncTolerance);
  CHECK(log_lines(synced)[0]["train_loss"].get<double>() ==
        doctest::Approx(log_lines(single)[0]["train_loss"].get<double>()).epsilon(1e-6));
}

TEST_CASE("mpirun -np 2 melgrad study runs CNN, BiLSTM and transfer experiments; rank 0 writes") {
  const fs::path study = scratch() / "study-2ranks";
  Result r = mpirun(
      2, {"study", "--quick", "--data", tiny_data(), "--frames", "16", "--threads", "1",
          "--no-progress", "--only", "genre-cnn-mel-beat,genre-lstm-chroma-beat,transfer-valence",
          "--out", study.string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json metrics = read_json(study / "metrics.json");
  for (const char* name : {"genre-cnn-mel-beat", "genre-lstm-chroma-beat", "transfer-valence"}) {
    CAPTURE(name);
    CHECK(metrics.contains(name));
    CHECK(fs::exists(study / name / "best.h5"));
    CHECK(log_lines(study / name).size() == 2);  // --quick: two epochs, one line each
  }
  CHECK(fs::exists(study / "report.html"));
  // One process printed: the experiment's result line (stdout) appears once.
  size_t result_lines = 0;
  std::istringstream out(r.out);
  for (std::string line; std::getline(out, line);)
    if (line.rfind("genre-lstm-chroma-beat: test accuracy", 0) == 0) ++result_lines;
  CHECK(result_lines == 1);
}
