// Checkpoint round trip and damaged files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "models/registry.h"

using namespace tinyvit;
namespace fs = std::filesystem;

namespace {
fs::path tmpdir() {
  auto d = fs::temp_directory_path() / ("tinyvit_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(Checkpoint, RoundTripRebuildsModelFromFileAlone) {
  torch::manual_seed(0);
  auto c = models::model_config("vit_micro_patch4_32", 10);
  c.vit.depth = 2;
  c.vit.block_heads = {4, 1};
  c.vit.block_mlp = {64, 16};
  auto m = models::build_model(c);
  m->eval();
  const auto path = (tmpdir() / "m.pt").string();
  models::save_checkpoint(path, *m, {{"class_names", {"a", "b"}}});
  auto loaded = models::load_checkpoint(path);
  EXPECT_EQ(loaded.meta["class_names"][1], "b");
  EXPECT_EQ(loaded.model->config().vit.block_heads, (std::vector<int>{4, 1}));
  auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(m->forward(x), loaded.model->forward(x)));

  // ResNet buffers (BatchNorm running stats) travel too.
  auto r = models::build_model(models::model_config("resnet18_cifar", 10));
  r->train();
  r->forward(torch::randn({4, 3, 32, 32}));  // updates running stats
  r->eval();
  models::save_checkpoint(path, *r, {});
  auto r2 = models::load_checkpoint(path).model;
  EXPECT_TRUE(torch::equal(r->forward(x), r2->forward(x)));
}

TEST(Checkpoint, TruncatedAndCorruptFilesGiveClearErrors) {
  auto m = models::build_model(models::model_config("vit_micro_patch4_32", 10));
  const auto dir = tmpdir();
  const auto good = (dir / "good.pt").string();
  models::save_checkpoint(good, *m, {});
  const std::string bytes = read_file_bytes(good);
  for (size_t cut : {size_t(0), size_t(10), bytes.size() / 2, bytes.size() - 7}) {
    const auto bad = (dir / "cut.pt").string();
    write_bytes_atomic(bad, bytes.data(), cut);
    EXPECT_THROW(models::load_checkpoint(bad), Error) << "cut at " << cut;
  }
  std::string flipped = bytes;
  for (size_t i = 100; i < flipped.size(); i += 997) flipped[i] ^= 0x5a;
  const auto bad = (dir / "flip.pt").string();
  write_bytes_atomic(bad, flipped.data(), flipped.size());
  EXPECT_THROW(models::load_checkpoint(bad), Error);
  EXPECT_THROW(models::load_checkpoint((dir / "missing.pt").string()), Error);
  fs::remove_all(dir);
}
