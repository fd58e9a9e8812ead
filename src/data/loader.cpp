#include "data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "data/augment.h"
#include "data/rng.h"

namespace tinyvit::data {

namespace {
// Domain tags keep the seeds of the different random streams apart.
constexpr uint64_t kOrderTag = 0x6f72646572ULL;  // "order"
constexpr uint64_t kEraseTag = 0x6572617365ULL;  // "erase"
constexpr uint64_t kMixTag = 0x6d6978ULL;        // "mix"
}  // namespace

struct BatchLoader::Impl {
  const ImageDataset& ds;
  std::vector<int64_t> indices;
  LoaderOptions opt;

  std::vector<int64_t> order;
  int64_t epoch = 0;
  int64_t num_batches = 0;
  bool started = false;

  std::mutex m;
  std::condition_variable cv_produce, cv_consume;
  std::map<int64_t, Batch> ready;
  int64_t next_index = 0;
  int64_t ahead = 1;  // batches a worker may run ahead of the consumer
  bool stop = false;
  std::exception_ptr error;
  std::vector<std::thread> workers;

  Impl(const ImageDataset& d, std::vector<int64_t> idx, LoaderOptions o)
      : ds(d), indices(std::move(idx)), opt(std::move(o)) {}

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv_produce.notify_all();
    cv_consume.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }

  Batch make_batch(int64_t b) const {
    torch::NoGradGuard no_grad;
    const int64_t n = static_cast<int64_t>(order.size());
    const int64_t start = b * opt.batch_size, end = std::min(n, start + opt.batch_size);
    const int64_t bs = end - start;
    const int h = ds.height, w = ds.width, s = opt.input_size;
    const bool resize = (h != s || w != s);
    const std::size_t img_bytes = static_cast<std::size_t>(ds.image_bytes());
    const bool aug = opt.augment;

    torch::Tensor raw = torch::empty({bs, 3, h, w}, torch::kFloat32);
    torch::Tensor labels = torch::empty({bs}, torch::kInt64);
    float* out = raw.data_ptr<float>();
    int64_t* lab = labels.data_ptr<int64_t>();
    // Without resizing, normalize in the same pass; with it, normalize after interpolation.
    float scale[3], bias[3];
    for (int c = 0; c < 3; ++c) {
      scale[c] = resize ? 1.f / 255.f : 1.f / (255.f * opt.std[c]);
      bias[c] = resize ? 0.f : -opt.mean[c] / opt.std[c];
    }
    std::vector<uint8_t> work(img_bytes);
    const std::size_t plane = std::size_t(h) * w;
    for (int64_t k = start; k < end; ++k) {
      const int64_t idx = order[static_cast<std::size_t>(k)];
      const uint8_t* src = ds.image(idx);
      if (aug) {
        Rng rng(derive_seed(opt.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(k)));
        const Mirror flip = !opt.aug.hflip ? Mirror::kNo
                            : !opt.aug.alternating_flip ? Mirror::kRandom
                            : alternating_mirror(opt.seed, idx, epoch) ? Mirror::kYes : Mirror::kNo;
        crop_flip(src, h, w, opt.aug.crop_padding, opt.aug.random_crop, flip, rng,
                  work.data(), opt.aug.reflect_padding);
        if (opt.aug.randaugment_ops > 0)
          rand_augment(work.data(), h, w, opt.aug.randaugment_ops, opt.aug.randaugment_magnitude, rng);
        src = work.data();
      }
      float* dst = out + static_cast<std::size_t>(k - start) * 3 * plane;
      for (std::size_t p = 0; p < plane; ++p) {
        dst[p] = src[p * 3] * scale[0] + bias[0];
        dst[plane + p] = src[p * 3 + 1] * scale[1] + bias[1];
        dst[2 * plane + p] = src[p * 3 + 2] * scale[2] + bias[2];
      }
      lab[k - start] = ds.labels[static_cast<std::size_t>(idx)];
    }

    torch::Tensor images = raw;
    if (resize) {
      namespace F = torch::nn::functional;
      images = F::interpolate(raw, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{s, s})
                                       .mode(torch::kBilinear)
                                       .align_corners(false));
      auto mean = torch::tensor({opt.mean[0], opt.mean[1], opt.mean[2]}).view({1, 3, 1, 1});
      auto stdv = torch::tensor({opt.std[0], opt.std[1], opt.std[2]}).view({1, 3, 1, 1});
      images = ((images - mean) / stdv).contiguous();
    }

    Batch batch;
    if (aug) {
      float* img = images.data_ptr<float>();
      if (opt.aug.random_erasing > 0.f) {
        for (int64_t k = start; k < end; ++k) {
          Rng rng(derive_seed(opt.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(k), kEraseTag));
          random_erase(img + static_cast<std::size_t>(k - start) * 3 * s * s, s, s,
                       opt.aug.random_erasing, rng);
        }
      }
      if (opt.aug.mixup_alpha > 0.f || opt.aug.cutmix_alpha > 0.f) {
        const int k = ds.num_classes();
        for (int64_t i = 0; i < bs; ++i)
          if (lab[i] < 0 || lab[i] >= k)
            throw Error("label " + std::to_string(lab[i]) + " is outside the dataset's " +
                        std::to_string(k) + " classes (mixup/cutmix need class_names)");
        torch::Tensor soft = torch::empty({bs, k}, torch::kFloat32);
        Rng rng(derive_seed(opt.seed ^ kMixTag, static_cast<uint64_t>(epoch), static_cast<uint64_t>(b)));
        mix_batch(img, bs, s, s, lab, k, opt.aug.mixup_alpha, opt.aug.cutmix_alpha, rng,
                  soft.data_ptr<float>());
        batch.soft_targets = soft;
      }
    }
    batch.images = images;
    batch.labels = labels;
    batch.index = b;
    return batch;
  }

  void worker(int64_t first, int64_t step) {
    for (int64_t b = first; b < num_batches; b += step) {
      {
        std::unique_lock<std::mutex> lock(m);
        cv_produce.wait(lock, [&] { return stop || b < next_index + ahead; });
        if (stop) return;
      }
      try {
        Batch batch = make_batch(b);
        std::lock_guard<std::mutex> lock(m);
        ready.emplace(b, std::move(batch));
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
        cv_consume.notify_all();
        return;
      }
      cv_consume.notify_all();
    }
  }
};

BatchLoader::BatchLoader(const ImageDataset& dataset, std::vector<int64_t> indices,
                         LoaderOptions options)
    : impl_(std::make_unique<Impl>(dataset, std::move(indices), std::move(options))) {
  const auto& o = impl_->opt;
  if (o.batch_size <= 0) throw Error("batch_size must be > 0, got " + std::to_string(o.batch_size));
  if (o.input_size <= 0) throw Error("input_size must be > 0, got " + std::to_string(o.input_size));
  if (o.num_workers < 1) throw Error("num_workers must be >= 1, got " + std::to_string(o.num_workers));
  if (o.aug.crop_padding < 0) throw Error("crop_padding must be >= 0");
  if (o.aug.reflect_padding && o.aug.random_crop && o.aug.crop_padding >= o.input_size)
    throw Error("reflect padding needs crop_padding smaller than the image size");
  for (int c = 0; c < 3; ++c)
    if (!(o.std[c] > 0.f)) throw Error("normalization std must be > 0");
  for (int64_t i : impl_->indices)
    if (i < 0 || i >= dataset.size())
      throw Error("loader index " + std::to_string(i) + " out of range for a dataset of " +
                  std::to_string(dataset.size()) + " images");
}

BatchLoader::~BatchLoader() { impl_->stop_workers(); }

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  Impl& d = *impl_;
  d.stop_workers();
  d.ready.clear();
  d.error = nullptr;
  d.stop = false;
  d.epoch = epoch;
  d.started = true;
  d.num_batches = batches_per_epoch();
  d.order = d.indices;
  if (d.opt.shuffle) {
    Rng rng(derive_seed(d.opt.seed, kOrderTag, static_cast<uint64_t>(epoch)));
    rng.shuffle(d.order.data(), static_cast<int64_t>(d.order.size()));
  }
  if (d.opt.drop_last) d.order.resize(static_cast<std::size_t>(d.num_batches * d.opt.batch_size));
  d.next_index = std::clamp<int64_t>(first_batch, 0, d.num_batches);
  const int64_t nw = std::min<int64_t>(d.opt.num_workers, std::max<int64_t>(1, d.num_batches - d.next_index));
  d.workers.reserve(static_cast<std::size_t>(nw));
  d.ahead = std::max<int64_t>(d.opt.prefetch, nw);
  const int64_t first = d.next_index;
  for (int64_t w = 0; w < nw; ++w) d.workers.emplace_back([&d, first, w, nw] { d.worker(first + w, nw); });
}

std::optional<Batch> BatchLoader::next() {
  Impl& d = *impl_;
  if (!d.started) start_epoch(0);
  std::unique_lock<std::mutex> lock(d.m);
  d.cv_consume.wait(lock, [&] {
    return d.error || d.next_index >= d.num_batches || d.ready.count(d.next_index) > 0;
  });
  if (d.error) std::rethrow_exception(d.error);
  if (d.next_index >= d.num_batches) return std::nullopt;
  auto it = d.ready.find(d.next_index);
  Batch batch = std::move(it->second);
  d.ready.erase(it);
  ++d.next_index;
  lock.unlock();
  d.cv_produce.notify_all();
  return batch;
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = static_cast<int64_t>(impl_->indices.size()), bs = impl_->opt.batch_size;
  return impl_->opt.drop_last ? n / bs : (n + bs - 1) / bs;
}

int64_t BatchLoader::num_samples() const { return static_cast<int64_t>(impl_->indices.size()); }

const LoaderOptions& BatchLoader::options() const { return impl_->opt; }

}  // namespace tinyvit::data
