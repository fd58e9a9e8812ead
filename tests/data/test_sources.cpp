// Sources: CIFAR-10 binary, image folders, .tar.gz archives, bad inputs, skip_bad.
#include <gtest/gtest.h>

#include "common/error.h"
#include "data/dataset.h"
#include "test_util.h"

using namespace tinyvit::data;
using tvtest::TempDir;

namespace {

// CIFAR record r: label = r % 10; R plane p -> (p + r) % 256, G -> (3p) % 256, B -> 255 - p % 256.
std::vector<uint8_t> cifar_records(int n, int first = 0) {
  std::vector<uint8_t> out;
  for (int r = first; r < first + n; ++r) {
    out.push_back(static_cast<uint8_t>(r % 10));
    for (int p = 0; p < 1024; ++p) out.push_back(static_cast<uint8_t>((p + r) % 256));
    for (int p = 0; p < 1024; ++p) out.push_back(static_cast<uint8_t>((3 * p) % 256));
    for (int p = 0; p < 1024; ++p) out.push_back(static_cast<uint8_t>(255 - p % 256));
  }
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tinyvit::Error& e) {
    return e.what();
  }
  return "<no tinyvit::Error thrown>";
}

}  // namespace

TEST(Cifar, SingleFileHwcConversion) {
  TempDir dir;
  tvtest::write_file(dir.path() / "data_batch_1.bin", cifar_records(3));
  const auto ds = load_dataset(dir.str("data_batch_1.bin"), {});
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.height, 32);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 2}));
  ASSERT_EQ(ds.num_classes(), 10);
  EXPECT_EQ(ds.class_names[0], "airplane");
  EXPECT_EQ(ds.class_names[9], "truck");
  // Hand-computed: record 0, pixel (y=0, x=1) -> plane index 1: R=1, G=3, B=254.
  const uint8_t* im0 = ds.image(0);
  EXPECT_EQ(im0[(0 * 32 + 1) * 3 + 0], 1);
  EXPECT_EQ(im0[(0 * 32 + 1) * 3 + 1], 3);
  EXPECT_EQ(im0[(0 * 32 + 1) * 3 + 2], 254);
  // Record 2, pixel (y=1, x=3) -> plane index 35: R=37, G=105, B=220.
  const uint8_t* im2 = ds.image(2);
  EXPECT_EQ(im2[(1 * 32 + 3) * 3 + 0], 37);
  EXPECT_EQ(im2[(1 * 32 + 3) * 3 + 1], 105);
  EXPECT_EQ(im2[(1 * 32 + 3) * 3 + 2], 220);
  // Every pixel of every record.
  for (int r = 0; r < 3; ++r)
    for (int p = 0; p < 1024; ++p) {
      const uint8_t* px = ds.image(r) + p * 3;
      ASSERT_EQ(px[0], (p + r) % 256);
      ASSERT_EQ(px[1], (3 * p) % 256);
      ASSERT_EQ(px[2], 255 - p % 256);
    }
}

TEST(Cifar, DirectoryWithFiveBatchesAndMeta) {
  TempDir dir;
  for (int b = 1; b <= 5; ++b)
    tvtest::write_file(dir.path() / ("data_batch_" + std::to_string(b) + ".bin"), cifar_records(2, 2 * (b - 1)));
  std::ofstream(dir.path() / "batches.meta.txt") << "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n\n";
  const auto ds = load_dataset(dir.str(), {});
  ASSERT_EQ(ds.size(), 10);
  EXPECT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[3], "c3");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ds.labels[i], i);
  EXPECT_EQ(ds.image(7)[0], 7);  // record 7, R plane pixel 0
}

TEST(Cifar, TruncatedFileNamesFileAndSize) {
  TempDir dir;
  auto recs = cifar_records(2);
  recs.resize(recs.size() + 100);
  tvtest::write_file(dir.path() / "test_batch.bin", recs);
  const std::string msg = error_of([&] { load_dataset(dir.str("test_batch.bin"), {}); });
  EXPECT_NE(msg.find("test_batch.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("6246"), std::string::npos) << msg;
}

TEST(Cifar, ResizedToStoreSize) {
  TempDir dir;
  tvtest::write_file(dir.path() / "x.bin", cifar_records(1));
  LoadOptions o;
  o.store_size = 16;
  const auto ds = load_dataset(dir.str("x.bin"), o);
  EXPECT_EQ(ds.height, 16);
  EXPECT_EQ(ds.pixels.size(), 16u * 16 * 3);
  EXPECT_EQ(ds.image(0)[2], 239);  // B of the 2x2 block {255,254,223,222}: 238.5 rounds to 239
}

TEST(ImageFolder, DirectoryTreeSortedClassesNestedAndIgnored) {
  TempDir dir;
  const auto red = std::vector<uint8_t>(32 * 32 * 3, 0);
  auto a = tvtest::pattern(32, 32, 1), b = tvtest::pattern(32, 32, 2);
  tvtest::write_file(dir.path() / "zebra" / "1.png", tvtest::encode_png(a, 32, 32));
  tvtest::write_file(dir.path() / "zebra" / "sub" / "2.PNG", tvtest::encode_png(b, 32, 32));
  tvtest::write_file(dir.path() / "apple" / "x.jpg", tvtest::encode_jpeg(a, 32, 32, 100));
  tvtest::write_file(dir.path() / "apple" / "notes.txt", {'h', 'i'});
  // A 64x64 constant image is resized (area) to 32x32 and stays constant.
  tvtest::write_file(dir.path() / "apple" / "y.png",
                     tvtest::encode_png(std::vector<uint8_t>(64 * 64 * 3, 150), 64, 64));
  std::ofstream(dir.path() / "README.txt") << "top-level files are ignored";
  const auto ds = load_dataset(dir.str(), {});
  ASSERT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"apple", "zebra"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 0, 1, 1}));
  // apple: x.jpg then y.png (sorted by path); zebra: 1.png then sub/2.PNG.
  for (int i = 0; i < 32 * 32 * 3; ++i) {
    ASSERT_EQ(ds.image(1)[i], 150);
    ASSERT_EQ(ds.image(2)[i], a[i]);
    ASSERT_EQ(ds.image(3)[i], b[i]);
  }
}

TEST(ImageFolder, EmptyClassFolderIsAnError) {
  TempDir dir;
  tvtest::write_file(dir.path() / "cat" / "1.png", tvtest::encode_png(tvtest::pattern(8, 8), 8, 8));
  std::filesystem::create_directories(dir.path() / "dog");
  std::ofstream(dir.path() / "dog" / "readme.md") << "no images";
  const std::string msg = error_of([&] { load_dataset(dir.str(), {}); });
  EXPECT_NE(msg.find((dir.path() / "dog").string()), std::string::npos) << msg;
}

TEST(ImageFolder, TruncatedJpegNamesTheFile) {
  TempDir dir;
  auto jpg = tvtest::encode_jpeg(tvtest::pattern(32, 32), 32, 32, 90);
  jpg.resize(jpg.size() / 2);
  tvtest::write_file(dir.path() / "cat" / "bad.jpg", jpg);
  tvtest::write_file(dir.path() / "cat" / "good.png", tvtest::encode_png(tvtest::pattern(32, 32), 32, 32));
  tvtest::write_file(dir.path() / "dog" / "good.png", tvtest::encode_png(tvtest::pattern(32, 32), 32, 32));
  const std::string msg = error_of([&] { load_dataset(dir.str(), {}); });
  EXPECT_NE(msg.find("bad.jpg"), std::string::npos) << msg;
}

// One class is no classification problem (training would report 100 % for nothing): an error
// naming the source and the one class, from a folder and from an archive.
TEST(ImageFolder, OneClassIsAnError) {
  TempDir dir;
  const auto png = tvtest::encode_png(tvtest::pattern(8, 8), 8, 8);
  tvtest::write_file(dir.path() / "tree" / "cat" / "1.png", png);
  tvtest::write_file(dir.path() / "tree" / "cat" / "2.png", png);
  std::string msg = error_of([&] { load_dataset(dir.str("tree"), {}); });
  EXPECT_NE(msg.find(dir.str("tree") + ": one class folder ('cat'); a classifier needs at least 2"),
            std::string::npos)
      << msg;
  const std::string tgz = dir.str("one.tar.gz");
  tvtest::write_tar(tgz, {{"data/cat/1.png", png}, {"data/cat/2.png", png}});
  msg = error_of([&] { load_dataset(tgz, {}); });
  EXPECT_NE(msg.find(tgz + ": one class folder ('cat')"), std::string::npos) << msg;
}

TEST(Archive, TarGzTinyTree) {
  TempDir dir;
  const auto p0 = tvtest::pattern(32, 32, 0), p1 = tvtest::pattern(32, 32, 1), p2 = tvtest::pattern(32, 32, 2);
  const std::string tgz = dir.str("tiny.tar.gz");
  tvtest::write_tar(tgz, {{"root/train/ship/b.png", tvtest::encode_png(p2, 32, 32)},
                          {"root/train/cat/a.png", tvtest::encode_png(p0, 32, 32)},
                          {"root/train/ship/a.png", tvtest::encode_png(p1, 32, 32)},
                          {"root/train/ship/info.txt", {'x'}},
                          {"root/LICENSE", {'y'}}});
  const auto ds = load_dataset(tgz, {});
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "ship"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 1}));
  EXPECT_TRUE(std::equal(p0.begin(), p0.end(), ds.image(0)));
  EXPECT_TRUE(std::equal(p1.begin(), p1.end(), ds.image(1)));
  EXPECT_TRUE(std::equal(p2.begin(), p2.end(), ds.image(2)));

  // The same tree as a plain .tar.
  const std::string tar = dir.str("tiny.tar");
  tvtest::write_tar(tar, {{"cat/a.png", tvtest::encode_png(p0, 32, 32)},
                         {"dog/a.png", tvtest::encode_png(p1, 32, 32)}},
                    /*gzip=*/false);
  EXPECT_EQ(load_dataset(tar, {}).size(), 2);
}

TEST(Archive, NoImagesIsAnError) {
  TempDir dir;
  const std::string tgz = dir.str("empty.tar.gz");
  tvtest::write_tar(tgz, {{"a/readme.txt", {'x'}}});
  const std::string msg = error_of([&] { load_dataset(tgz, {}); });
  EXPECT_NE(msg.find(tgz), std::string::npos) << msg;
  EXPECT_NE(msg.find("no .jpg"), std::string::npos) << msg;
}

TEST(Archive, BadImagesThrowOrAreSkipped) {
  TempDir dir;
  auto jpg = tvtest::encode_jpeg(tvtest::pattern(32, 32), 32, 32, 90);
  auto cut = jpg;
  cut.resize(cut.size() / 2);
  const std::string tgz = dir.str("mixed.tar.gz");
  tvtest::write_tar(tgz, {{"d/cat/0.jpg", jpg},
                          {"d/cat/1.jpg", cut},
                          {"d/dog/0.jpg", jpg},
                          {"d/dog/1.png", {0x89, 'P', 'N', 'G', 1, 2, 3}},
                          {"d/dog/2.jpg", jpg}});
  const std::string msg = error_of([&] { load_dataset(tgz, {}); });
  EXPECT_EQ(msg.rfind(tgz + ":d/cat/1.jpg: ", 0), 0u) << msg;

  LoadOptions o;
  o.skip_bad = true;
  testing::internal::CaptureStderr();
  const auto ds = load_dataset(tgz, o);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 1}));
  EXPECT_NE(err.find("skipped 2 undecodable images, first: " + tgz + ":d/cat/1.jpg: "), std::string::npos) << err;

  // Skipping may not empty a class: the model would have an output no image ever trains.
  const std::string gone = dir.str("gone.tar.gz");
  tvtest::write_tar(gone, {{"d/cat/0.jpg", jpg}, {"d/dog/0.jpg", cut}});
  testing::internal::CaptureStderr();
  const std::string gone_msg = error_of([&] { load_dataset(gone, o); });
  testing::internal::GetCapturedStderr();
  EXPECT_NE(gone_msg.find(gone + ": class 'dog' has no decodable image left"), std::string::npos)
      << gone_msg;
}

TEST(Sources, MissingPathIsAnError) {
  const std::string msg = error_of([] { load_dataset("/nonexistent/dir/data.tar.gz", {}); });
  EXPECT_NE(msg.find("/nonexistent/dir/data.tar.gz"), std::string::npos) << msg;
}
