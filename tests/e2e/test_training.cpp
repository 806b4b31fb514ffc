// End-to-end runs of the `melgrad` training commands on a tiny generated data set (the
// small set's counts with 1-5 frame arrays, padded to 16 frames for the CNN): the sanity
// mode, every file of the run-folder contract, seeded determinism, exact resume (also
// after Ctrl-C in the middle of an epoch), the NaN stop, usage errors, evaluate/predict,
// a quick study and a small grid.
#include <doctest/doctest.h>

#include <set>

#include "e2e_util.h"
#include "engine/io/tensor_file.h"

using namespace e2e;
using nlohmann::json;

namespace {

// A small, fast CNN genre run: 2 conv blocks (1-4-8), 16 frames.
std::vector<std::string> cnn_genre_args(const fs::path& out, int epochs,
                                        const std::string& seed = "42") {
  return {"genre",  "--data",     tiny_data(), "--beat",   "--frames",
          "16",     "--channels", "1,4,8",     "--epochs", std::to_string(epochs),
          "--seed", seed,         "--threads", "2",        "--no-progress",
          "--out",  out.string()};
}

// The per-epoch numbers a seed fixes (not the wall-clock ones).
std::vector<std::vector<double>> log_numbers(const fs::path& run) {
  std::vector<std::vector<double>> rows;
  for (const json& l : log_lines(run))
    rows.push_back({l["epoch"].get<double>(), l["train_loss"].get<double>(),
                    l["val_loss"].get<double>(), l.value("val_accuracy", 0.0)});
  return rows;
}

}  // namespace

TEST_CASE("overfit-batch drives the loss of one batch below 0.01 (CNN and BiLSTM)") {
  Result cnn = run({"overfit-batch", "--model", "cnn", "--data", tiny_data(), "--beat", "--frames",
                    "16", "--steps", "300", "--threads", "2"});
  INFO(cnn.out << cnn.err);
  CHECK(cnn.code == 0);
  CHECK(cnn.out.find("< 0.01 after") != std::string::npos);
  Result lstm = run({"overfit-batch", "--model", "lstm", "--data", tiny_data(), "--beat",
                     "--batch-size", "16", "--lr", "0.003", "--steps", "300", "--threads", "2"});
  INFO(lstm.out << lstm.err);
  CHECK(lstm.code == 0);
  CHECK(lstm.out.find("< 0.01 after") != std::string::npos);
}

TEST_CASE("a two-epoch genre run writes every file of the run-folder contract") {
  const fs::path run_dir = scratch() / "genre-two-epochs";
  Result r = run(cnn_genre_args(run_dir, 2));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  for (const char* f :
       {"config.json", "log.jsonl", "best.h5", "last.h5", "metrics.json", "predictions.json"})
    CHECK_MESSAGE(fs::exists(run_dir / f), f);

  const json config = read_json(run_dir / "config.json");
  CHECK(config["command"] == "genre");
  CHECK(config["model"] == "cnn");
  CHECK(config["features"] == "mel");
  CHECK(config["beat"] == true);
  CHECK(config["classes"].size() == 10);
  CHECK(config["epochs"] == 2);
  CHECK(config["batch_size"] == 32);
  CHECK(config["lr"].get<double>() == doctest::Approx(1e-4));
  CHECK(config["weight_decay"].get<double>() == doctest::Approx(1e-5));
  CHECK(config["seed"] == 42);
  CHECK(config["device"] == "cpu");
  CHECK(config["data"]["synthetic"] == true);
  CHECK(config["data"]["name"].get<std::string>().find("synthetic patreco3") == 0);
  CHECK(config["model_config"]["frames"] == 16);
  CHECK(config["model_config"]["channels"] == json({1, 4, 8}));
  CHECK(config.contains("melgrad_version"));

  const std::vector<json> lines = log_lines(run_dir);
  REQUIRE(lines.size() == 2);
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["epoch"] == int(i + 1));
    for (const char* k : {"train_loss", "val_loss", "lr", "seconds", "clips_per_s", "val_accuracy"})
      CHECK_MESSAGE(lines[i][k].is_number(), k);
    CHECK(lines[i]["best"].is_boolean());
  }
  CHECK(lines[0]["best"] == true);  // the first epoch always improves on +inf

  const json m = read_json(run_dir / "metrics.json");
  CHECK(m["test_clips"] == 72);  // the small set's genre test split after CLASS_MAPPING
  CHECK(m["accuracy"].get<double>() >= 0);
  CHECK(m["accuracy"].get<double>() <= 1);
  for (const char* k : {"macro_f1", "weighted_f1", "train_seconds"})
    CHECK_MESSAGE(m[k].is_number(), k);
  CHECK(m["epochs_run"] == 2);
  CHECK(m["best_epoch"].get<int>() >= 1);
  CHECK(m["classes"] == config["classes"]);
  REQUIRE(m["confusion"].size() == 10);
  int64_t total = 0, diagonal = 0;
  for (size_t i = 0; i < 10; ++i) {
    REQUIRE(m["confusion"][i].size() == 10);
    for (size_t j = 0; j < 10; ++j) total += m["confusion"][i][j].get<int64_t>();
    diagonal += m["confusion"][i][i].get<int64_t>();
  }
  CHECK(total == 72);
  CHECK(double(diagonal) / 72 == doctest::Approx(m["accuracy"].get<double>()).epsilon(1e-12));
  CHECK(m["per_class"]["Rock"]["support"].is_number());

  const json p = read_json(run_dir / "predictions.json");
  CHECK(p["classes"] == config["classes"]);
  CHECK(p["ids"].size() == 72);
  CHECK(p["truth"].size() == 72);
  CHECK(p["predicted"].size() == 72);

  // evaluate rebuilds the network from config.json + best.h5 and reproduces the metrics.
  Result ev = run({"evaluate", "--run", run_dir.string(), "--json", "--threads", "2"});
  INFO(ev.err);
  REQUIRE(ev.code == 0);
  const json em = json::parse(ev.out);
  CHECK(em["accuracy"].get<double>() == m["accuracy"].get<double>());
  CHECK(em["confusion"] == m["confusion"]);

  // predict names a genre of the run's classes for each file.
  std::vector<std::string> files;
  for (const auto& e :
       fs::directory_iterator(fs::path(tiny_data()) / "fma_genre_spectrograms_beat" / "test")) {
    files.push_back(e.path().string());
    if (files.size() == 3) break;
  }
  std::vector<std::string> args = {"predict", "--run", run_dir.string(), "--json"};
  args.insert(args.end(), files.begin(), files.end());
  Result pr = run(args);
  INFO(pr.err);
  REQUIRE(pr.code == 0);
  const json preds = json::parse(pr.out);
  REQUIRE(preds.size() == 3);
  const std::set<std::string> classes(config["classes"].begin(), config["classes"].end());
  for (const json& row : preds) {
    CHECK(classes.count(row["genre"].get<std::string>()) == 1);
    CHECK(row["probability"].get<double>() > 0.1);  // the top of 10 classes: at least 1/10
    CHECK(row["probability"].get<double>() <= 1.0);
  }

  // A second run into the same folder is refused; --force overwrites it.
  Result again = run(cnn_genre_args(run_dir, 1));
  CHECK(again.code == 1);
  CHECK(again.err.find("not empty") != std::string::npos);
  std::vector<std::string> forced = cnn_genre_args(run_dir, 1);
  forced.push_back("--force");
  CHECK(run(forced).code == 0);
  CHECK(log_lines(run_dir).size() == 1);
}

TEST_CASE("regression runs write the regression metrics and predictions") {
  const fs::path run_dir = scratch() / "regress-lstm";
  Result r = run({"regress", "--model", "lstm", "--target", "energy", "--data", tiny_data(),
                  "--beat", "--hidden", "16", "--epochs", "2", "--threads", "2", "--no-progress",
                  "--out", run_dir.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json config = read_json(run_dir / "config.json");
  CHECK(config["targets"] == json({"energy"}));
  CHECK_FALSE(config.contains("classes"));
  const json m = read_json(run_dir / "metrics.json");
  CHECK(m["test_clips"] == 33);  // floor(0.12 * 280) labelled multitask clips
  for (const char* k : {"spearman", "pvalue", "mse"}) {
    CHECK_MESSAGE(m[k].is_object(), k);
    CHECK_MESSAGE(m[k].size() == 1, k);
    CHECK_MESSAGE(m[k].contains("energy"), k);
  }
  CHECK(m["mean_spearman"] == m["spearman"]["energy"]);
  const json p = read_json(run_dir / "predictions.json");
  CHECK(p["targets"] == json({"energy"}));
  CHECK(p["truth"]["energy"].size() == 33);
  CHECK(p["predicted"]["energy"].size() == 33);
  for (const json& l : log_lines(run_dir)) CHECK(l["val_spearman"].contains("energy"));
}

TEST_CASE("the same seed gives the same metrics; another seed does not") {
  const fs::path a = scratch() / "seed-a", b = scratch() / "seed-b", c = scratch() / "seed-c";
  REQUIRE(run(cnn_genre_args(a, 2, "5")).code == 0);
  REQUIRE(run(cnn_genre_args(b, 2, "5")).code == 0);
  REQUIRE(run(cnn_genre_args(c, 2, "6")).code == 0);
  CHECK(timeless(read_json(a / "metrics.json")) == timeless(read_json(b / "metrics.json")));
  CHECK(read_text(a / "predictions.json") == read_text(b / "predictions.json"));
  CHECK(log_numbers(a) == log_numbers(b));
  CHECK(log_numbers(a) != log_numbers(c));
}

TEST_CASE("--resume continues exactly: 1 + 2 epochs equal 3 epochs") {
  const fs::path straight = scratch() / "straight", split = scratch() / "split";
  REQUIRE(run(cnn_genre_args(straight, 3)).code == 0);
  REQUIRE(run(cnn_genre_args(split, 1)).code == 0);
  std::vector<std::string> resume = cnn_genre_args(split, 3);
  resume.push_back("--resume");
  Result r = run(resume);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("resuming after epoch 1") != std::string::npos);
  CHECK(log_numbers(split) == log_numbers(straight));
  CHECK(timeless(read_json(split / "metrics.json")) ==
        timeless(read_json(straight / "metrics.json")));
  CHECK(run({"genre", "--resume", "--out", (scratch() / "nothing-here").string()}).code == 1);
}

TEST_CASE(
    "early stopping ends the run `patience` epochs after the best one and restores its "
    "checkpoint") {
  // At 100x the default learning rate the validation loss stops improving after a few
  // epochs (seed 42: best epoch 7, stop after 9), long before the 40 epochs allowed.
  const int epochs = 40, patience = 2;
  const fs::path run_dir = scratch() / "early-stop";
  std::vector<std::string> a = cnn_genre_args(run_dir, epochs);
  a.insert(a.end(), {"--patience", std::to_string(patience), "--lr", "1e-2"});
  Result r = run(a);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("early stop") != std::string::npos);

  const json m = read_json(run_dir / "metrics.json");
  const std::vector<json> lines = log_lines(run_dir);
  const int epochs_run = m["epochs_run"].get<int>(), best_epoch = m["best_epoch"].get<int>();
  CHECK(epochs_run < epochs);
  REQUIRE(lines.size() == size_t(epochs_run));
  // The best epoch is the first one with the lowest validation loss, and the only lines
  // after it are the `patience` epochs without improvement.
  size_t lowest = 0;
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i]["val_loss"].get<double>() < lines[lowest]["val_loss"].get<double>()) lowest = i;
  CHECK(best_epoch == int(lowest) + 1);
  CHECK(epochs_run == best_epoch + patience);
  CHECK(lines[size_t(best_epoch - 1)]["best"] == true);
  for (size_t i = size_t(best_epoch); i < lines.size(); ++i) CHECK(lines[i]["best"] == false);

  // best.h5 holds that epoch's weights: it says so, it scores the logged validation accuracy
  // of that epoch, and the test metrics (computed after restoring it) are evaluate's.
  CHECK(melgrad::io::load_tensor_file((run_dir / "best.h5").string()).attributes.at("epoch") ==
        std::to_string(best_epoch));
  Result val =
      run({"evaluate", "--run", run_dir.string(), "--split", "val", "--json", "--threads", "2"});
  INFO(val.err);
  REQUIRE(val.code == 0);
  CHECK(
      json::parse(val.out)["accuracy"].get<double>() ==
      doctest::Approx(lines[size_t(best_epoch - 1)]["val_accuracy"].get<double>()).epsilon(1e-12));
  Result test = run({"evaluate", "--run", run_dir.string(), "--json", "--threads", "2"});
  INFO(test.err);
  REQUIRE(test.code == 0);
  json restored = timeless(m);
  restored.erase("best_epoch");
  restored.erase("epochs_run");
  CHECK(json::parse(test.out) == restored);
}

TEST_CASE(
    "Ctrl-C saves last.h5 and exits 130; --resume then ends where an uninterrupted run ends") {
  // Batches of 4 clips: 48 per epoch. The interrupted run may take 50 epochs (no early
  // stop), so it cannot finish before the signal, which is sent once the first epoch's
  // last.h5 exists: the handler is installed by then, and the next check of the flag is
  // after the first batch of epoch 2, so the signal lands inside an epoch. Where it landed
  // decides the length of the reference run and of the resume.
  auto args = [&](const fs::path& out, int epochs) {
    std::vector<std::string> a = cnn_genre_args(out, epochs);
    a.insert(a.end(), {"--batch-size", "4", "--channels", "1,8,16", "--patience", "0"});
    return a;
  };
  const fs::path reference = scratch() / "sigint-reference", interrupted = scratch() / "sigint";
  pid_t pid = spawn(args(interrupted, 50), "sigint");
  wait_until([&] { return fs::exists(interrupted / "last.h5"); });
  ::kill(pid, SIGINT);
  Result r = wait_for(pid, "sigint");
  INFO(r.err);
  REQUIRE(r.code == 130);
  int epoch = 0, batch = 0, batches = 0;
  const size_t at = r.err.find("interrupted at epoch");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(r.err.c_str() + at, "interrupted at epoch %d, batch %d of %d", &epoch, &batch,
                      &batches) == 3);
  REQUIRE(epoch >= 1);
  // At the end of an epoch (rare: the check right after last.h5 is written) the epoch is
  // complete.
  const int done = batch == batches ? epoch : epoch - 1;
  if (batch == batches)
    MESSAGE("the signal landed at the end of epoch " << epoch << ", not inside it");
  CHECK(r.err.find("--resume") != std::string::npos);
  CHECK(fs::exists(interrupted / "last.h5"));
  CHECK_FALSE(fs::exists(interrupted / "metrics.json"));
  CHECK(log_lines(interrupted).size() == size_t(done));

  const int epochs = epoch + 1;  // the interrupted epoch's rest, then a whole one
  REQUIRE(run(args(reference, epochs)).code == 0);
  std::vector<std::string> resume = args(interrupted, epochs);
  resume.push_back("--resume");
  Result rr = run(resume);
  INFO(rr.err);
  REQUIRE(rr.code == 0);
  CHECK(rr.err.find("resuming after epoch " + std::to_string(done)) != std::string::npos);
  CHECK(log_numbers(interrupted).size() == size_t(epochs));
  CHECK(log_numbers(interrupted) == log_numbers(reference));
  CHECK(timeless(read_json(interrupted / "metrics.json")) ==
        timeless(read_json(reference / "metrics.json")));
}

TEST_CASE("a NaN/Inf loss stops training with a message naming epoch and batch") {
  std::vector<std::string> a = cnn_genre_args(scratch() / "nan", 2);
  a.insert(a.end(), {"--lr", "1e30"});
  Result r = run(a);
  CHECK(r.code == 1);
  CHECK(r.err.find("the loss became") != std::string::npos);
  CHECK(r.err.find("at epoch 1, batch") != std::string::npos);
  CHECK(r.err.find("lower --lr") != std::string::npos);
}

TEST_CASE("bad command lines exit with 2 and name the option") {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"genre", "--model", "rnn"}, "--model"},
      {{"genre", "--epochs", "many"}, "--epochs"},
      {{"genre", "--no-such-option"}, "--no-such-option"},
      {{"genre", "--features", "mfcc"}, "--features"},
      {{"regress", "--target", "tempo"}, "--target"},
      {{"multitask", "--weights", "1,2"}, "--weights"},
      {{"genre", "--resume"}, "--resume"},
      {{"transfer", "--data", tiny_data()}, "--from"},
      {{"evaluate"}, "--run"},
      {{"predict", "--run", "x"}, "FILE.npy"},
      {{"study", "--epochs", "-1"}, "--epochs"},
      {{"genre", "--deterministic", "maybe"}, "option --deterministic expects on or off"},
      {{"study", "--deterministic", "yes"}, "option --deterministic expects on or off"},
  };
  for (const Case& c : cases) {
    Result r = run(c.args);
    INFO(c.args[0] << " " << (c.args.size() > 1 ? c.args[1] : "") << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
  }
  Result help = run({"genre", "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--beat") != std::string::npos);
}

TEST_CASE("study --quick runs experiments in order and writes study.json and metrics.json") {
  const fs::path study = scratch() / "study";
  Result r = run(
      {"study", "--quick", "--data", tiny_data(), "--frames", "16", "--threads", "2",
       "--no-progress", "--only",
       "genre-cnn-mel-beat,genre-lstm-chroma-beat,regress-cnn-valence,transfer-valence,multitask",
       "--out", study.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json s = read_json(study / "study.json");
  CHECK(s["dataset"]["synthetic"] == true);
  CHECK(s["device"] == "cpu");
  CHECK(s["seconds"].get<double>() > 0);
  const std::vector<std::string> expected = {"genre-cnn-mel-beat", "genre-lstm-chroma-beat",
                                             "regress-cnn-valence", "transfer-valence",
                                             "multitask"};
  REQUIRE(s["experiments"].size() == expected.size());
  const json metrics = read_json(study / "metrics.json");
  for (size_t i = 0; i < expected.size(); ++i) {
    const json& e = s["experiments"][i];
    CHECK(e["name"] == expected[i]);
    CHECK(e["dir"] == expected[i]);
    CHECK(e["title"].is_string());
    CHECK(metrics[expected[i]] == read_json(study / expected[i] / "metrics.json"));
  }
  CHECK(s["experiments"][3]["kind"] == "transfer");
  CHECK(read_json(study / "transfer-valence" / "config.json")["transfer"]["from"]
            .get<std::string>()
            .find("genre-cnn-mel-beat") != std::string::npos);
  CHECK(metrics["multitask"]["spearman"].size() == 3);
  CHECK(r.out.find("report") != std::string::npos);

  // The report, in HTML (self-contained, SVG plots) and Markdown, with the sections of
  // experiments/report_sections.cpp and report_summary.cpp and one part per experiment.
  REQUIRE(fs::is_regular_file(study / "report.html"));
  REQUIRE(fs::is_regular_file(study / "report.md"));
  const std::string html = read_text(study / "report.html"), md = read_text(study / "report.md");
  CHECK(html.find("<h1>melgrad study report</h1>") != std::string::npos);
  CHECK(md.rfind("# melgrad study report\n", 0) == 0);
  for (const std::string* text : {&html, &md})
    CHECK(text->find("SYNTHETIC DATA") != std::string::npos);
  for (const std::string title :
       {"Summary: our results beside the published ones", "Genre classification: LSTM vs CNN",
        "Regression per attribute: CNN vs LSTM",
        "Transfer learning vs training from scratch (valence)", "Multitask: one CNN, three heads",
        "Every experiment and its files"}) {
    CHECK_MESSAGE(html.find("<h2>" + title + "</h2>") != std::string::npos, title);
    CHECK_MESSAGE(md.find("\n## " + title + "\n") != std::string::npos, title);
  }
  for (const std::string& name : expected) {
    CHECK_MESSAGE(html.find("<h3>" + name + " — ") != std::string::npos, name);
    CHECK_MESSAGE(md.find("\n### " + name + " — ") != std::string::npos, name);
  }
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
}

TEST_CASE("grid runs one regression run per cell and writes grid.json and metrics.json") {
  const fs::path grid = scratch() / "grid";
  Result r = run({"grid", "--data", tiny_data(), "--beat", "--hidden-sizes", "8", "--layer-counts",
                  "1,2", "--lrs", "0.001", "--losses", "mse,l1", "--epochs", "1", "--threads", "2",
                  "--no-progress", "--out", grid.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json g = read_json(grid / "grid.json");
  REQUIRE(g["rows"].size() == 4);
  for (const json& row : g["rows"]) {
    for (const char* k :
         {"hidden", "layers", "lr", "loss", "target", "best_val_loss", "spearman", "dir"})
      CHECK_MESSAGE(row.contains(k), k);
    CHECK(fs::exists(grid / row["dir"].get<std::string>() / "metrics.json"));
    CHECK(read_json(grid / row["dir"].get<std::string>() /
                    "config.json")["model_config"]["hidden"] == 8);
  }
  CHECK(g["rows"][3]["layers"] == 2);
  CHECK(g["rows"][3]["loss"] == "l1");
  const json m = read_json(grid / "metrics.json");
  CHECK(m["best"] == g["best"]);
  CHECK(m["spearman"]["valence"] == g["best"]["spearman"]);
}
