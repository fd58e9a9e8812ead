// The real CIFAR-10 training archive from ../shared/data (never committed to the repository).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "data/dataset.h"

#ifndef TINYVIT_SHARED_DATA
#error "TINYVIT_SHARED_DATA must point at the shared data directory"
#endif

TEST(RealCifar, ArchiveHas50000ImagesInTenClasses) {
  const std::string path = std::string(TINYVIT_SHARED_DATA) + "/cifar10-train-jpeg.tar.gz";
  ASSERT_TRUE(std::filesystem::exists(path))
      << "The CIFAR-10 training archive is missing: expected " << path
      << " (the shared data directory next to the repository, see ../shared/data/README.md).";
  const auto t0 = std::chrono::steady_clock::now();
  const auto ds = tinyvit::data::load_dataset(path, {});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "decoded " << ds.size() << " images in " << s << " s\n";
  ASSERT_EQ(ds.size(), 50000);
  EXPECT_EQ(ds.height, 32);
  EXPECT_EQ(ds.width, 32);
  const std::vector<std::string> want = {"airplane", "automobile", "bird",  "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(ds.class_names, want);
  std::vector<int> counts(10);
  for (int32_t l : ds.labels) ++counts[static_cast<std::size_t>(l)];
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[static_cast<std::size_t>(c)], 5000) << want[c];
  EXPECT_EQ(ds.pixels.size(), 50000u * 32 * 32 * 3);
}
