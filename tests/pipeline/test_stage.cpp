// run_stage on real CIFAR-10 images: a cnn-family model trained from scratch gets its
// whitening stem from the training images, and the checkpoint keeps it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <set>

#include "models/checkpoint.h"
#include "models/cnn.h"
#include "pipeline/stage.h"

namespace fs = std::filesystem;
using namespace tinyvit;

TEST(Stage, FastCnnStemIsWhitenedFromTheTrainingImages) {
  pipeline::DataConfig dc;
  dc.path = std::string(TINYVIT_SHARED_DATA) + "/cifar10-train-jpeg.tar.gz";
  dc.train_limit = 500;
  dc.val_limit = 100;
  const auto d = pipeline::prepare_data(dc);
  pipeline::StageConfig sc;
  sc.model = "cnn_fast_cifar";
  sc.batch_size = 50;
  sc.train.optimizer = "sgd";
  sc.train.lr = 0.01;
  sc.train.epochs = 1;
  sc.train.max_steps_per_epoch = 2;
  sc.train.progress_seconds = 1e9;
  const fs::path dir = fs::temp_directory_path() / ("tinyvit_stage_" + std::to_string(getpid()));
  fs::create_directories(dir);
  pipeline::run_stage(d, dc, sc, "", (dir / "t.pt").string(), (dir / "m.jsonl").string(), false);
  const auto loaded = models::load_checkpoint((dir / "t.pt").string());
  auto* cnn = dynamic_cast<models::FastCnn*>(loaded.model.get());
  ASSERT_NE(cnn, nullptr);

  // The 500 training images, normalized as the trainer sees them (no augmentation).
  data::BatchLoader all(d.dataset, d.train, pipeline::loader_options(d, dc, 500, 32, false, {}, 0));
  all.start_epoch(0);
  const auto x = all.next()->images.to(torch::kFloat64);
  auto y = torch::conv2d(x, cnn->whiten->weight.slice(0, 0, 12).to(torch::kFloat64));
  y = y.permute({0, 2, 3, 1}).reshape({-1, 12});
  y = y - y.mean(0, true);
  const auto cov = y.t().mm(y) / static_cast<double>(y.size(0));
  // Whitened on these very images: cov = diag(l / (l + 5e-4)); natural-image patches have
  // small eigenvalues in the high-frequency directions, so the diagonal is only bounded by 1.
  EXPECT_LE(cov.diagonal().max().item<double>(), 1.0 + 1e-6);
  EXPECT_GT(cov.diagonal().max().item<double>(), 0.9);
  EXPECT_LT((cov - torch::diag(cov.diagonal())).abs().max().item<double>(), 1e-4);
  fs::remove_all(dir);
}

// The whitening stem's sample: the cache stores CIFAR-10 class by class, so the first 5,000
// training indices hold one or two classes; init_sample must give 500 of each of the 10, all
// from the training split, the same for the same seed.
TEST(Stage, WhiteningSampleIsClassBalanced) {
  pipeline::DataConfig dc;
  dc.path = std::string(TINYVIT_SHARED_DATA) + "/cifar10-train-jpeg.tar.gz";
  const auto d = pipeline::prepare_data(dc);
  ASSERT_EQ(d.train.size(), 45000u);
  auto classes = [&](const std::vector<int64_t>& idx) {
    std::map<int32_t, int> count;
    for (int64_t i : idx) ++count[d.dataset.labels[static_cast<std::size_t>(i)]];
    return count;
  };
  EXPECT_LE(classes({d.train.begin(), d.train.begin() + 5000}).size(), 2u);  // the hazard
  const auto sample = pipeline::init_sample(d, 0);
  ASSERT_EQ(sample.size(), 5000u);
  const auto count = classes(sample);
  ASSERT_EQ(count.size(), 10u);
  for (const auto& [label, n] : count) EXPECT_EQ(n, 500) << "class " << label;
  const std::set<int64_t> train(d.train.begin(), d.train.end());
  for (int64_t i : sample) EXPECT_TRUE(train.count(i)) << i << " is not a training image";
  EXPECT_EQ(pipeline::init_sample(d, 0), sample);
}
