// kill -9 in the middle of an epoch, then --resume: the run finishes, its checkpoint loads,
// and its weights are bit-identical to an uninterrupted run with the same seed (same data
// order, augmentation, optimizer state, schedule position and RNG).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "models/checkpoint.h"

extern char** environ;
namespace fs = std::filesystem;
using namespace tinyvit;

namespace {

const std::string kArchive = std::string(TINYVIT_SHARED_DATA) + "/cifar10-train-jpeg.tar.gz";

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// `recipe`: the model and the options under test, appended to the common arguments.
std::vector<std::string> train_args(const fs::path& dir, const std::string& out,
                                    const std::vector<std::string>& recipe) {
  std::vector<std::string> a = {
      std::string(TINYVIT_BINARY_DIR) + "/tinyvit",
      "train", "--data", kArchive,
      "--train-limit", "256", "--val-limit", "64", "--cache-dir", (dir / "cache").string(),
      "--epochs", "2", "--batch-size", "32", "--threads", "1", "--seed", "3",
      "--checkpoint-minutes", "0.00001",  // checkpoint after every step
      "-o", (dir / out).string(), "--metrics", (dir / (out + ".jsonl")).string()};
  a.insert(a.end(), recipe.begin(), recipe.end());
  return a;
}

// Runs `recipe` uninterrupted and killed (-9) once `kill_after` exists, resumes the killed one
// and compares. kill_after: "run.pt" (the first mid-epoch checkpoint) or "run.pt.jsonl" (the
// metrics file, written after epoch 1's checkpoint).
void kill_resume_and_compare(const std::vector<std::string>& recipe, const std::string& kill_after) {
  ASSERT_TRUE(fs::exists(kArchive)) << "CIFAR-10 archive not found at " << kArchive
                                    << " (the tests read ../shared/data beside the checkout)";
  const fs::path dir = fs::temp_directory_path() / ("tinyvit_resume_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  ASSERT_EQ(wait_exit(spawn(train_args(dir, "ref.pt", recipe))), 0) << "reference run failed";

  // Interrupted run: kill -9 as soon as `kill_after` exists.
  const pid_t pid = spawn(train_args(dir, "run.pt", recipe));
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!fs::exists(dir / kill_after) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(dir / kill_after)) << kill_after << " did not appear";
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), -SIGKILL) << "the run ended before it could be killed";
  ASSERT_TRUE(models::checkpoint_has_key((dir / "run.pt").string(), "train"))
      << "the checkpoint left by the killed run holds no trainer state";
  auto partial = models::load_checkpoint((dir / "run.pt").string());
  EXPECT_FALSE(partial.meta.value("complete", true));

  auto args = train_args(dir, "run.pt", recipe);
  args.push_back("--resume");
  ASSERT_EQ(wait_exit(spawn(args)), 0) << "resumed run failed";

  auto ref = models::load_checkpoint((dir / "ref.pt").string());
  auto run = models::load_checkpoint((dir / "run.pt").string());
  EXPECT_TRUE(run.meta.value("complete", false));
  EXPECT_EQ(run.meta["history"].size(), 2u);
  auto rp = ref.model->named_parameters();
  for (const auto& p : run.model->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), rp[p.key()])) << p.key() << " differs after resume";
  auto rb = ref.model->named_buffers();
  for (const auto& b : run.model->named_buffers())
    EXPECT_TRUE(torch::equal(b.value(), rb[b.key()])) << b.key() << " differs after resume";
  EXPECT_EQ(ref.meta["history"].back()["val_acc"], run.meta["history"].back()["val_acc"]);

  // One metrics line per epoch, no duplicates from the killed attempt.
  std::ifstream m(dir / "run.pt.jsonl");
  int lines = 0;
  for (std::string l; std::getline(m, l);) lines += !l.empty();
  EXPECT_EQ(lines, 2);

  // A finished checkpoint resumes to "already complete" without training again.
  EXPECT_EQ(wait_exit(spawn(args)), 0);
  fs::remove_all(dir);
}

}  // namespace

// In bf16 (autocast forward; train/precision.h): the resumed run must still match bit for bit,
// so nothing of the autocast state leaks between steps or into the checkpoint.
TEST(Resume, KillNineMidEpochThenResumeMatchesUninterruptedRun) {
  kill_resume_and_compare({"--model", "vit_micro_patch4_32", "--randaugment-ops", "1",
                           "--drop-path", "0.1", "--precision", "bf16"},
                          "run.pt");
}

// The airbench recipe of the `full` teacher; killed in epoch 2, after the Lookahead snapshot
// (step 5 of 16), so the slow weights must come back from the checkpoint for the resumed run
// to match (BatchNorm running statistics included, which Lookahead also averages), and after
// the whitening bias froze (step 8), which the resumed run must redo.
TEST(Resume, LookaheadRecipeResumesToTheSameWeights) {
  kill_resume_and_compare({"--model", "cnn_fast_cifar", "--optimizer", "sgd", "--lr", "0.2",
                           "--momentum", "0.85", "--weight-decay", "1e-3", "--schedule",
                           "triangular", "--warmup-epochs", "0.5", "--norm-bias-lr-scale", "64",
                           "--lookahead", "--lookahead-start-epochs", "0", "--grad-clip", "0",
                           "--crop-padding", "2", "--reflect-padding", "--eval-tta",
                           "--decay-norms-and-biases", "--whiten-bias-epochs", "1",
                           "--alternating-flip"},
                          "run.pt.jsonl");
}

// --whiten-bias-epochs 1: the whitening stem's bias moves in epoch 1 and not after. At a
// constant lr (warmup 0, min-lr = lr), epoch 1 of a 2-epoch run is the same computation as a
// 1-epoch run, so the 2-epoch run must end with exactly the 1-epoch run's bias while its
// other weights went on training.
TEST(TrainCli, WhitenBiasStopsTrainingAfterItsEpochs) {
  ASSERT_TRUE(fs::exists(kArchive)) << "CIFAR-10 archive not found at " << kArchive;
  const fs::path dir = fs::temp_directory_path() / ("tinyvit_whiten_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto run = [&](const std::string& epochs, const std::string& out) {
    return wait_exit(spawn({std::string(TINYVIT_BINARY_DIR) + "/tinyvit", "train", "--data", kArchive,
                            "--train-limit", "128", "--val-limit", "32", "--cache-dir",
                            (dir / "cache").string(), "--epochs", epochs, "--batch-size", "32",
                            "--threads", "1", "--seed", "3", "--model", "cnn_fast_cifar",
                            "--optimizer", "sgd", "--lr", "0.05", "--min-lr", "0.05",
                            "--warmup-epochs", "0", "--whiten-bias-epochs", "1", "-o",
                            (dir / out).string()}));
  };
  ASSERT_EQ(run("1", "one.pt"), 0);
  ASSERT_EQ(run("2", "two.pt"), 0);
  auto one = models::load_checkpoint((dir / "one.pt").string()).model->named_parameters();
  auto two = models::load_checkpoint((dir / "two.pt").string()).model->named_parameters();
  EXPECT_FALSE(torch::equal(one["whiten.bias"], torch::zeros_like(one["whiten.bias"])))
      << "the bias did not train in epoch 1";
  EXPECT_TRUE(torch::equal(one["whiten.bias"], two["whiten.bias"])) << "the bias moved in epoch 2";
  EXPECT_FALSE(torch::equal(one["head.weight"], two["head.weight"]));
  fs::remove_all(dir);
}
