// tinyvit visualize --model CKPT|model.tflite --data PATH [--count 32] [--seed S] [--only-wrong]
//                   -o samples.png
// The seed project's verification view: a grid of validation images, each with its true label,
// the prediction with its confidence, and the loss; misclassified ones framed in red.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "data/loader.h"
#include "pipeline/stage.h"
#include "report/font.h"
#include "report/grid.h"
#include "report/inference.h"
#include "train/trainer.h"

namespace tinyvit::cli {

namespace {

struct Scored {
  torch::Tensor pixels;  // (N, 3, S, S) in [0, 1]
  torch::Tensor labels;  // (N,) int64
  torch::Tensor logits;  // (N, K)
};

Scored score(report::InferenceModel& model, const pipeline::PreparedData& d,
             const pipeline::DataConfig& dc, const std::vector<int64_t>& indices) {
  auto lo = pipeline::loader_options(d, dc, 256, model.input_size(), false, {}, 0);
  lo.mean = {0.f, 0.f, 0.f};  // pixels in [0, 1]; the model normalizes
  lo.std = {1.f, 1.f, 1.f};
  lo.shuffle = false;
  data::BatchLoader loader(d.dataset, indices, lo);
  loader.start_epoch(0);
  std::vector<torch::Tensor> px, lb;
  while (auto b = loader.next()) {
    px.push_back(b->images);
    lb.push_back(b->labels);
  }
  Scored s{torch::cat(px), torch::cat(lb), {}};
  s.logits = model.logits_from_pixels(s.pixels);
  return s;
}

}  // namespace

void register_visualize_command(CLI::App& app) {
  struct Args {
    std::string model;
    std::string out;
    int count = 32;
    int cols = 8;
    int scale = 0;
    bool only_wrong = false;
    pipeline::DataConfig data;
    int threads = 0;
    std::string device = "cpu";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "visualize", "PNG grid of validation images with label, prediction, loss and confidence");
  cmd->add_option("--model", a->model, "Checkpoint (.pt) or exported .tflite (run in LiteRT.js)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", a->out, "PNG file to write")->required();
  cmd->add_option("--count", a->count, "Images in the grid")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--cols", a->cols, "Images per row")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--scale", a->scale, "Upscaling of each image (0 = about 128 px per image)")
      ->capture_default_str()
      ->check(CLI::Range(0, 16));
  cmd->add_flag("--only-wrong", a->only_wrong, "Show misclassified images only");
  add_data_options(cmd, a->data);
  add_runtime_options(cmd, a->threads, a->device, a->seed);
  cmd->callback([a] {
    train::configure_threads(a->threads);
    auto model = report::open_model(a->model);
    const auto d = pipeline::prepare_data(a->data);
    if (d.dataset.num_classes() != model->num_classes())
      throw Error(fmt::format("{} has {} classes but {} has {}", a->model, model->num_classes(),
                              a->data.path, d.dataset.num_classes()));
    // A .tflite without names gets the data set's (same count, same order as in training).
    std::vector<std::string> names = model->class_names();
    if (names.empty() || names[0] == "class_0") names = d.dataset.class_names;

    // Seeded sample of the validation split (Fisher-Yates on a fixed generator).
    std::vector<int64_t> order = d.val;
    std::mt19937_64 rng(a->seed);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);

    std::vector<torch::Tensor> px, lb, lg;
    int64_t shown = 0, scanned = 0;
    const int64_t chunk = a->only_wrong ? 512 : a->count;
    for (size_t start = 0; start < order.size() && shown < a->count; start += chunk) {
      const size_t end = std::min(order.size(), start + static_cast<size_t>(chunk));
      std::vector<int64_t> idx(order.begin() + start, order.begin() + end);
      auto s = score(*model, d, a->data, idx);
      scanned += s.labels.size(0);
      torch::Tensor keep = torch::ones({s.labels.size(0)}, torch::kBool);
      if (a->only_wrong) keep = s.logits.argmax(1) != s.labels;
      auto sel = keep.nonzero().view(-1).slice(0, 0, a->count - shown);
      px.push_back(s.pixels.index_select(0, sel));
      lb.push_back(s.labels.index_select(0, sel));
      lg.push_back(s.logits.index_select(0, sel));
      shown += sel.size(0);
    }
    if (shown == 0)
      throw Error(a->only_wrong ? fmt::format("no misclassified images among the {} validation "
                                              "images: nothing to show", scanned)
                                : std::string("the validation split is empty"));
    const auto pixels = torch::cat(px), labels = torch::cat(lb), logits = torch::cat(lg);
    const auto logp = torch::log_softmax(logits.to(torch::kFloat64), 1);
    const auto pred = logits.argmax(1);
    const auto loss = -logp.gather(1, labels.view({-1, 1})).view(-1);
    const auto conf = logp.exp().gather(1, pred.view({-1, 1})).view(-1);
    const int64_t correct = (pred == labels).sum().item<int64_t>();
    const double accuracy = double(correct) / double(shown);
    const double mean_loss = loss.mean().item<double>();

    const int S = model->input_size();
    const auto u8 = (pixels * 255.f).round().clamp(0, 255).to(torch::kUInt8)
                        .permute({0, 2, 3, 1}).contiguous();
    std::vector<report::GridTile> tiles(static_cast<size_t>(shown));
    for (int64_t i = 0; i < shown; ++i) {
      const int64_t t = labels[i].item<int64_t>(), p = pred[i].item<int64_t>();
      const bool ok = t == p;
      auto& tile = tiles[static_cast<size_t>(i)];
      tile.rgb = u8.data_ptr<uint8_t>() + i * S * S * 3;
      tile.marked = !ok;
      tile.lines = {
          {"T: " + names[t], report::colors::kText},
          {"P: " + names[p], ok ? report::colors::kGreen : report::colors::kRed},
          {fmt::format("{:.0f}% loss {:.2f}", 100.0 * conf[i].item<double>(),
                       loss[i].item<double>()),
           ok ? report::colors::kGrey : report::colors::kRed}};
    }
    report::GridOptions go;
    go.image_scale = a->scale > 0 ? a->scale : std::max(1, 160 / S);
    go.cols = a->cols;
    go.text_scale = 2;                                     // readable at a glance
    go.min_tile_width = report::text_width("T: automobile", 2);  // 13 characters
    const std::vector<report::TextLine> header = {
        {fmt::format("{}  [{}, {}x{}]", a->model, model->kind(), S, S), report::colors::kText},
        {fmt::format("{} {}validation images (seed {}): accuracy {:.1f}% ({} wrong), mean loss {:.3f}",
                     shown, a->only_wrong ? "misclassified " : "", a->seed, 100.0 * accuracy,
                     shown - correct, mean_loss),
         report::colors::kText},
        {"T = true label, P = prediction (red frame = wrong), its confidence, loss",
         report::colors::kGrey}};
    const auto canvas = report::draw_grid(tiles, S, S, header, go);
    report::write_png(a->out, canvas);
    std::cout << fmt::format("{}: {} images, accuracy {:.2f}% ({} wrong), mean loss {:.4f} -> {} "
                             "({}x{})\n",
                             a->model, shown, 100.0 * accuracy, shown - correct, mean_loss, a->out,
                             canvas.width(), canvas.height());
  });
}

}  // namespace tinyvit::cli
