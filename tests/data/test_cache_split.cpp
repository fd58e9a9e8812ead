// Decoded-dataset cache and stratified split/subset.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/dataset.h"
#include "data/dataset_cache.h"
#include "data/split.h"
#include "test_util.h"

using namespace tinyvit::data;
using tvtest::TempDir;

namespace {

std::string make_tree(const TempDir& dir) {
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 4; ++i)
      tvtest::write_file(dir.path() / "src" / ("class" + std::to_string(c)) / (std::to_string(i) + ".png"),
                         tvtest::encode_png(tvtest::pattern(32, 32, c * 10 + i), 32, 32));
  return dir.str("src");
}

std::string only_cache_file(const TempDir& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "cache"))
    files.push_back(e.path().string());
  EXPECT_EQ(files.size(), 1u);
  return files.empty() ? "" : files[0];
}

void expect_same(const ImageDataset& a, const ImageDataset& b) {
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.class_names, b.class_names);
  EXPECT_TRUE(a.pixels == b.pixels);
}

}  // namespace

TEST(Cache, RoundTripAndIsReallyUsed) {
  TempDir dir;
  const std::string src = make_tree(dir);
  LoadOptions o;
  o.cache_dir = dir.str("cache");
  const auto first = load_dataset(src, o);
  const std::string file = only_cache_file(dir);
  ASSERT_FALSE(file.empty());
  EXPECT_NE(file.find(".tvcache"), std::string::npos);
  const auto second = load_dataset(src, o);
  expect_same(first, second);

  // Prove the second load reads the cache: overwrite it with a valid file holding other pixels.
  auto marked = first;
  marked.pixels[0] = static_cast<uint8_t>(marked.pixels[0] ^ 0xFF);
  write_cache(file, cache_key(src, 32), marked);
  EXPECT_EQ(load_dataset(src, o).pixels[0], marked.pixels[0]);

  // Another store_size is another cache entry.
  o.store_size = 16;
  EXPECT_EQ(load_dataset(src, o).height, 16);
}

TEST(Cache, CorruptOrTruncatedCacheIsRebuilt) {
  TempDir dir;
  const std::string src = make_tree(dir);
  LoadOptions o;
  o.cache_dir = dir.str("cache");
  const auto first = load_dataset(src, o);
  const std::string file = only_cache_file(dir);

  auto bytes = tvtest::read_file(file);
  bytes[bytes.size() / 2] ^= 0x01;  // one pixel bit: only the checksum can tell
  tvtest::write_file(file, bytes);
  testing::internal::CaptureStderr();
  auto again = load_dataset(src, o);
  std::string err = testing::internal::GetCapturedStderr();
  expect_same(first, again);
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
  EXPECT_NE(err.find("rebuilding"), std::string::npos) << err;
  EXPECT_EQ(tvtest::read_file(file).size(), bytes.size());  // rewritten

  bytes = tvtest::read_file(file);
  bytes.resize(bytes.size() - 1000);
  tvtest::write_file(file, bytes);
  testing::internal::CaptureStderr();
  again = load_dataset(src, o);
  err = testing::internal::GetCapturedStderr();
  expect_same(first, again);
  EXPECT_NE(err.find("rebuilding"), std::string::npos) << err;

  tvtest::write_file(file, {'j', 'u', 'n', 'k'});
  testing::internal::CaptureStderr();
  again = load_dataset(src, o);
  testing::internal::GetCapturedStderr();
  expect_same(first, again);
}

TEST(Cache, ChecksumIsChunkingIndependent) {
  std::vector<uint8_t> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  Checksum whole;
  whole.update(data.data(), data.size());
  Checksum parts;
  std::size_t pos = 0;
  for (std::size_t step : {1u, 3u, 8u, 13u, 500u}) {
    parts.update(data.data() + pos, step);
    pos += step;
  }
  parts.update(data.data() + pos, data.size() - pos);
  EXPECT_EQ(whole.digest(), parts.digest());
  data[999] ^= 1;
  Checksum changed;
  changed.update(data.data(), data.size());
  EXPECT_NE(whole.digest(), changed.digest());
}

namespace {
// Unbalanced labels: class c has 100 + 37c images, interleaved.
std::vector<int32_t> unbalanced_labels() {
  std::vector<int32_t> labels;
  std::vector<int> left = {100, 137, 174, 211};
  for (bool any = true; any;) {
    any = false;
    for (int c = 0; c < 4; ++c)
      if (left[c] > 0) {
        labels.push_back(c);
        --left[c];
        any = true;
      }
  }
  return labels;  // 622 images
}
}  // namespace

TEST(Split, ExactStratifiedCountsDisjointDeterministic) {
  const auto labels = unbalanced_labels();
  const Split s = stratified_split(labels, 100, 7);
  EXPECT_EQ(s.val.size(), 100u);
  EXPECT_EQ(s.train.size(), labels.size() - 100);
  // Largest remainder: 100*{100,137,174,211}/622 = 16.08, 22.03, 27.97, 33.92
  // floors 16,22,27,33 = 98; the two largest remainders (.97, .92) get +1 -> 16,22,28,34.
  std::map<int, int> per_class;
  for (int64_t i : s.val) ++per_class[labels[static_cast<std::size_t>(i)]];
  EXPECT_EQ(per_class[0], 16);
  EXPECT_EQ(per_class[1], 22);
  EXPECT_EQ(per_class[2], 28);
  EXPECT_EQ(per_class[3], 34);
  EXPECT_TRUE(std::is_sorted(s.val.begin(), s.val.end()));
  EXPECT_TRUE(std::is_sorted(s.train.begin(), s.train.end()));
  std::set<int64_t> all(s.val.begin(), s.val.end());
  all.insert(s.train.begin(), s.train.end());
  EXPECT_EQ(all.size(), labels.size());  // disjoint and covering

  const Split again = stratified_split(labels, 100, 7);
  EXPECT_EQ(again.val, s.val);
  EXPECT_EQ(again.train, s.train);
  const Split other = stratified_split(labels, 100, 8);
  EXPECT_NE(other.val, s.val);

  // CIFAR-like: 10 balanced classes, 5000 val -> exactly 500 per class.
  std::vector<int32_t> bal(50000);
  for (std::size_t i = 0; i < bal.size(); ++i) bal[i] = static_cast<int32_t>(i % 10);
  const Split cs = stratified_split(bal, 5000, 0);
  std::vector<int> counts(10);
  for (int64_t i : cs.val) ++counts[static_cast<std::size_t>(bal[static_cast<std::size_t>(i)])];
  for (int c : counts) EXPECT_EQ(c, 500);

  EXPECT_THROW(stratified_split(labels, 1000, 0), std::exception);
  EXPECT_EQ(stratified_split(labels, 0, 0).train.size(), labels.size());
}

TEST(Split, StratifiedSubset) {
  const auto labels = unbalanced_labels();
  const Split s = stratified_split(labels, 100, 1);
  const auto sub = stratified_subset(s.train, labels, 52, 3);
  EXPECT_EQ(sub.size(), 52u);
  EXPECT_TRUE(std::is_sorted(sub.begin(), sub.end()));
  std::set<int64_t> train(s.train.begin(), s.train.end());
  std::map<int, int> per_class;
  for (int64_t i : sub) {
    EXPECT_TRUE(train.count(i));
    ++per_class[labels[static_cast<std::size_t>(i)]];
  }
  // train counts 84,115,146,177 (=522): 52*those/522 = 8.37, 11.46, 14.54, 17.63 -> 8,11,14,17
  // (=50) + the two largest remainders (.63, .54) -> 8, 11, 15, 18.
  EXPECT_EQ(per_class[0], 8);
  EXPECT_EQ(per_class[1], 11);
  EXPECT_EQ(per_class[2], 15);
  EXPECT_EQ(per_class[3], 18);
  EXPECT_EQ(stratified_subset(s.train, labels, 52, 3), sub);
  EXPECT_NE(stratified_subset(s.train, labels, 52, 4), sub);
  EXPECT_EQ(stratified_subset(s.train, labels, 0, 3), s.train);
  EXPECT_EQ(stratified_subset(s.train, labels, 100000, 3), s.train);
}
