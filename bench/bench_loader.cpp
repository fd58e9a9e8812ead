// Loader throughput: images/s delivered by BatchLoader on CIFAR-10 (45k train split), plus the
// cold (decode) and cached load times of the archive.
//   bench_loader [archive] [cache_dir] [batches]
// Defaults: ../shared/data/cifar10-train-jpeg.tar.gz, /tmp/tinyvit-bench-cache, 100 batches.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/split.h"

using namespace tinyvit::data;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
  const std::string archive =
      argc > 1 ? argv[1] : std::string(TINYVIT_SHARED_DATA) + "/cifar10-train-jpeg.tar.gz";
  const std::string cache_dir = argc > 2 ? argv[2] : "/tmp/tinyvit-bench-cache";
  const int batches = argc > 3 ? std::atoi(argv[3]) : 100;
  try {
    std::error_code ec;
    std::filesystem::remove_all(cache_dir, ec);
    LoadOptions lo;
    auto t0 = Clock::now();
    ImageDataset ds = load_dataset(archive, lo);
    const double cold = seconds_since(t0);
    lo.cache_dir = cache_dir;
    t0 = Clock::now();
    ds = load_dataset(archive, lo);
    const double cold_write = seconds_since(t0);
    t0 = Clock::now();
    ds = load_dataset(archive, lo);
    const double cached = seconds_since(t0);
    std::printf("dataset: %lld images %dx%d, %d classes\n", static_cast<long long>(ds.size()),
                ds.height, ds.width, ds.num_classes());
    std::printf("load: cold (decode, no cache) %.2f s | cold + cache write %.2f s | cached %.3f s\n\n",
                cold, cold_write, cached);

    const Split split = stratified_split(ds.labels, 5000, 0);
    struct Config {
      const char* name;
      bool augment;
      int randaugment;
      float mix;
      float erase;
      int input;
    };
    const Config configs[] = {
        {"eval (no augmentation)", false, 0, 0.f, 0.f, 32},
        {"crop+flip", true, 0, 0.f, 0.f, 32},
        {"crop+flip+randaugment(2,9)", true, 2, 0.f, 0.f, 32},
        {"crop+flip+RA+mixup/cutmix+erasing", true, 2, 0.8f, 0.25f, 32},
        {"crop+flip, resized to 64", true, 0, 0.f, 0.f, 64},
    };
    std::printf("%-36s %8s %12s\n", "config (batch 128)", "workers", "images/s");
    for (const auto& c : configs) {
      for (int workers : {1, 2}) {
        LoaderOptions o;
        o.batch_size = 128;
        o.augment = c.augment;
        o.aug.randaugment_ops = c.randaugment;
        o.aug.mixup_alpha = c.mix;
        o.aug.cutmix_alpha = c.mix > 0 ? 1.f : 0.f;
        o.aug.random_erasing = c.erase;
        o.input_size = c.input;
        o.num_workers = workers;
        o.seed = 1;
        BatchLoader loader(ds, split.train, o);
        loader.start_epoch(0);
        int64_t images = 0;
        double checksum = 0;
        t0 = Clock::now();
        for (int b = 0; b < batches; ++b) {
          auto batch = loader.next();
          if (!batch) {
            loader.start_epoch(b);
            batch = loader.next();
          }
          images += batch->images.size(0);
          checksum += batch->images.data_ptr<float>()[0];
        }
        const double s = seconds_since(t0);
        std::printf("%-36s %8d %12.0f\n", c.name, workers, images / s);
        (void)checksum;
      }
    }
    std::filesystem::remove_all(cache_dir, ec);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_loader: %s\n", e.what());
    return 1;
  }
  return 0;
}
