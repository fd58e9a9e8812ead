#include "pipeline/samples.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/error.h"
#include "data/loader.h"
#include "report/canvas.h"
#include "report/font.h"
#include "report/grid.h"

namespace tinyvit::pipeline {
namespace {

struct Scored {
  torch::Tensor pixels;  // (N, 3, S, S) in [0, 1]
  torch::Tensor labels;  // (N,) int64
  torch::Tensor logits;  // (N, K)
};

Scored score(report::InferenceModel& model, const PreparedData& d, const DataConfig& dc,
             const std::vector<int64_t>& indices) {
  auto lo = loader_options(d, dc, 256, model.input_size(), false, {}, 0);
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

SamplesResult write_samples_png(report::InferenceModel& model, const PreparedData& d,
                                const DataConfig& dc, const SamplesOptions& o,
                                const std::string& png_path) {
  if (d.dataset.num_classes() != model.num_classes())
    throw Error(fmt::format("{} has {} classes but {} has {}", o.title, model.num_classes(),
                            dc.path, d.dataset.num_classes()));
  // A .tflite without names gets the data set's (same count, same order as in training).
  std::vector<std::string> names = model.class_names();
  if (names.empty() || names[0] == "class_0") names = d.dataset.class_names;

  // Seeded sample of the validation split (Fisher-Yates on a fixed generator).
  std::vector<int64_t> order = d.val;
  std::mt19937_64 rng(o.seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);

  SamplesResult r;
  std::vector<torch::Tensor> px, lb, lg;
  const int64_t chunk = o.only_wrong ? 512 : o.count;
  for (size_t start = 0; start < order.size() && r.shown < o.count; start += chunk) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(chunk));
    std::vector<int64_t> idx(order.begin() + start, order.begin() + end);
    auto s = score(model, d, dc, idx);
    r.scanned += s.labels.size(0);
    torch::Tensor keep = torch::ones({s.labels.size(0)}, torch::kBool);
    if (o.only_wrong) keep = s.logits.argmax(1) != s.labels;
    auto sel = keep.nonzero().view(-1).slice(0, 0, o.count - r.shown);
    px.push_back(s.pixels.index_select(0, sel));
    lb.push_back(s.labels.index_select(0, sel));
    lg.push_back(s.logits.index_select(0, sel));
    r.shown += sel.size(0);
  }
  if (r.shown == 0)
    throw Error(o.only_wrong ? fmt::format("no misclassified images among the {} validation "
                                           "images: nothing to show", r.scanned)
                             : std::string("the validation split is empty"));
  const auto pixels = torch::cat(px), labels = torch::cat(lb), logits = torch::cat(lg);
  const auto logp = torch::log_softmax(logits.to(torch::kFloat64), 1);
  const auto pred = logits.argmax(1);
  const auto loss = -logp.gather(1, labels.view({-1, 1})).view(-1);
  const auto conf = logp.exp().gather(1, pred.view({-1, 1})).view(-1);
  r.correct = (pred == labels).sum().item<int64_t>();
  r.mean_loss = loss.mean().item<double>();
  const double accuracy = double(r.correct) / double(r.shown);

  const int S = model.input_size();
  const auto u8 = (pixels * 255.f).round().clamp(0, 255).to(torch::kUInt8)
                      .permute({0, 2, 3, 1}).contiguous();
  std::vector<report::GridTile> tiles(static_cast<size_t>(r.shown));
  for (int64_t i = 0; i < r.shown; ++i) {
    const int64_t t = labels[i].item<int64_t>(), p = pred[i].item<int64_t>();
    const bool ok = t == p;
    auto& tile = tiles[static_cast<size_t>(i)];
    tile.rgb = u8.data_ptr<uint8_t>() + i * S * S * 3;
    tile.marked = !ok;
    tile.lines = {
        {"T: " + names[t], report::colors::kText},
        {"P: " + names[p], ok ? report::colors::kGreen : report::colors::kRed},
        {fmt::format("{:.0f}% loss {:.2f}", 100.0 * conf[i].item<double>(), loss[i].item<double>()),
         ok ? report::colors::kGrey : report::colors::kRed}};
  }
  report::GridOptions go;
  go.image_scale = o.scale > 0 ? o.scale : std::max(1, 160 / S);
  go.cols = o.cols;
  go.text_scale = 2;                                           // readable at a glance
  go.min_tile_width = report::text_width("T: automobile", 2);  // 13 characters
  const std::vector<report::TextLine> header = {
      {fmt::format("{}  [{}, {}x{}]", o.title, model.kind(), S, S), report::colors::kText},
      {fmt::format("{} {}validation images (seed {}): accuracy {:.1f}% ({} wrong), mean loss {:.3f}",
                   r.shown, o.only_wrong ? "misclassified " : "", o.seed, 100.0 * accuracy,
                   r.shown - r.correct, r.mean_loss),
       report::colors::kText},
      {"T = true label, P = prediction (red frame = wrong), its confidence, loss",
       report::colors::kGrey}};
  const auto canvas = report::draw_grid(tiles, S, S, header, go);
  report::write_png(png_path, canvas);
  r.width = canvas.width();
  r.height = canvas.height();
  return r;
}

}  // namespace tinyvit::pipeline
