#include "train/trainer.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "common/atomic_file.h"
#include "common/error.h"
#include "models/checkpoint.h"
#include "train/evaluate.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/schedule.h"

namespace tinyvit::train {
namespace {

using Clock = std::chrono::steady_clock;
std::atomic<bool> g_stop{false};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string hms(double s) {
  const auto t = static_cast<int64_t>(s < 0 ? 0 : s);
  return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
}

void to_channels_last(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
}

extern "C" void on_stop_signal(int) { g_stop.store(true); }

}  // namespace

torch::Device parse_device(const std::string& name) {
  torch::Device d(torch::kCPU);
  try {
    d = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
  }
  if (d.is_cuda() && !torch::cuda::is_available())
    throw Error("device '" + name + "' asked for, but this LibTorch build has no usable CUDA");
  return d;
}

int configure_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

struct Trainer::State {
  int64_t epoch = 0;          // current epoch (0-based)
  int64_t batch = 0;          // batches done in the current epoch
  int64_t step = 0;           // optimizer steps done in total
  double best = 0.0;
  nlohmann::json history = nlohmann::json::array();
};

Trainer::Trainer(models::ClassifierPtr model, models::ClassifierPtr teacher,
                 data::BatchLoader& train, data::BatchLoader& val, TrainOptions options,
                 nlohmann::json meta, std::string checkpoint_path, std::string metrics_path)
    : model_(std::move(model)),
      teacher_(std::move(teacher)),
      train_(train),
      val_(val),
      opt_(std::move(options)),
      meta_(std::move(meta)),
      ckpt_path_(std::move(checkpoint_path)),
      metrics_path_(std::move(metrics_path)),
      device_(parse_device(opt_.device)) {}

void Trainer::save(const State& s, bool complete) {
  nlohmann::json meta = meta_;
  meta["stage"] = opt_.stage;
  meta["complete"] = complete;
  meta["epochs_done"] = s.epoch;
  meta["history"] = s.history;
  meta["best_val_accuracy"] = s.best;
  if (!s.history.empty()) meta["val_accuracy"] = s.history.back()["val_acc"];
  if (!s.history.empty() && s.history.back().contains("val_acc_tta"))
    meta["val_accuracy_tta"] = s.history.back()["val_acc_tta"];
  // Weights and optimizer state are saved from the CPU so a checkpoint never depends on the
  // training device (Trainer::load moves them back).
  model_->to(torch::kCPU);
  move_optimizer_state(*optimizer_, torch::kCPU);
  models::save_checkpoint(ckpt_path_, *model_, meta, [&](torch::serialize::OutputArchive& ar) {
    if (complete) return;  // finished checkpoints carry no trainer state
    torch::serialize::OutputArchive t;
    t.write("epoch", c10::IValue(s.epoch));
    t.write("batch", c10::IValue(s.batch));
    t.write("step", c10::IValue(s.step));
    t.write("rng", at::detail::getDefaultCPUGenerator().get_state());
    torch::serialize::OutputArchive o;
    optimizer_->save(o);
    t.write("optimizer", o);
    if (lookahead_) {
      torch::serialize::OutputArchive la;
      lookahead_->save(la);
      t.write("lookahead", la);
    }
    ar.write("train", t);
  });
  model_->to(device_);
  move_optimizer_state(*optimizer_, device_);
}

bool Trainer::load(State& s) {
  if (!std::filesystem::exists(ckpt_path_)) return false;
  bool has_state = false;
  auto loaded = models::load_checkpoint(ckpt_path_, [&](torch::serialize::InputArchive& ar) {
    torch::serialize::InputArchive t;
    if (!ar.try_read("train", t)) return;
    c10::IValue v;
    t.read("epoch", v);
    s.epoch = v.toInt();
    t.read("batch", v);
    s.batch = v.toInt();
    t.read("step", v);
    s.step = v.toInt();
    torch::Tensor rng;
    t.read("rng", rng);
    at::Generator gen = at::detail::getDefaultCPUGenerator();  // handle copy, same state
    gen.set_state(rng);
    torch::serialize::InputArchive o;
    t.read("optimizer", o);
    optimizer_->load(o);
    move_optimizer_state(*optimizer_, device_);
    torch::serialize::InputArchive la;
    if (lookahead_ && t.try_read("lookahead", la)) lookahead_->load(la, *model_);
    has_state = true;
  });
  // Copy weights into our model (the optimizer holds references to its parameters).
  {
    torch::NoGradGuard g;
    auto src = loaded.model->named_parameters();
    for (auto& p : model_->named_parameters()) p.value().copy_(src[p.key()]);
    auto srcb = loaded.model->named_buffers();
    for (auto& b : model_->named_buffers()) b.value().copy_(srcb[b.key()]);
  }
  s.history = loaded.meta.value("history", nlohmann::json::array());
  s.best = loaded.meta.value("best_val_accuracy", 0.0);
  if (!has_state) {
    if (!loaded.meta.value("complete", false))
      throw Error("checkpoint '" + ckpt_path_ + "' has no trainer state to resume from");
    s.epoch = opt_.epochs;  // finished run
  }
  return true;
}

void Trainer::write_metrics(const nlohmann::json& history) {
  if (metrics_path_.empty()) return;
  // Lines of other stages are kept; this stage's lines are rewritten from the checkpoint's
  // history, so a resumed run never duplicates or loses an epoch line.
  std::string out;
  std::ifstream in(metrics_path_);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("stage", "") == opt_.stage) continue;
    out += line + "\n";
  }
  for (const auto& h : history) out += h.dump() + "\n";
  write_text_atomic(metrics_path_, out);
}

TrainResult Trainer::run(bool resume) {
  torch::manual_seed(opt_.seed);
  model_->to(device_);
  if (opt_.channels_last) to_channels_last(*model_);
  if (teacher_) {
    teacher_->to(device_);
    teacher_->eval();
    for (auto& p : teacher_->parameters()) p.requires_grad_(false);
  }
  // A convolutional teacher runs channels-last on the CPU whatever the student's layout: only its
  // forward runs, which is 1.2x faster in NHWC there (cnn_fast_cifar_wide at batch 128;
  // `bench_train --mode eval`, docs/benchmarks.md), and the layout does not change its logits
  // beyond float rounding.
  const bool teacher_nhwc =
      teacher_ && (opt_.channels_last ||
                   (teacher_->config().family != "vit" && device_.is_cpu()));
  if (teacher_nhwc) to_channels_last(*teacher_);
  const Precision precision = resolve_precision(opt_.precision, device_);
  const bool bf16 = precision == Precision::kBFloat16;
  if (opt_.precision == "auto" || bf16)
    std::cerr << fmt::format("[{}] precision {}{}\n", opt_.stage, precision_name(precision),
                             bf16 ? " (autocast forward, float32 weights and optimizer)" : "");
  optimizer_ = make_optimizer(*model_, opt_);
  const int64_t per_epoch = opt_.max_steps_per_epoch > 0
                                ? std::min(opt_.max_steps_per_epoch, train_.batches_per_epoch())
                                : train_.batches_per_epoch();
  lookahead_.reset();
  if (opt_.lookahead) {
    lookahead_ = std::make_unique<Lookahead>(
        static_cast<int64_t>(opt_.lookahead_start_epochs * static_cast<double>(per_epoch)),
        opt_.epochs * per_epoch);
  }

  // airbench: the whitening stem's bias trains for the first whiten_bias_epochs, then stays
  // fixed (no gradient, so no momentum or decay step either).
  torch::Tensor whiten_bias;
  if (opt_.whiten_bias_epochs > 0) {
    for (const auto& item : model_->named_parameters())
      if (item.key() == "whiten.bias") whiten_bias = item.value();
    if (!whiten_bias.defined())
      throw Error(fmt::format("[{}] whiten_bias_epochs is set but the model has no whitening stem "
                              "(only the cnn family has one)", opt_.stage));
  }
  const auto whiten_bias_steps =
      static_cast<int64_t>(opt_.whiten_bias_epochs * static_cast<double>(per_epoch));

  State s;
  if (resume && load(s)) {
    if (s.epoch >= opt_.epochs) {
      std::cerr << fmt::format("[{}] '{}' is already complete ({} epochs)\n", opt_.stage,
                               ckpt_path_, s.history.size());
    } else {
      std::cerr << fmt::format("[{}] resuming '{}' at epoch {}, batch {}\n", opt_.stage,
                               ckpt_path_, s.epoch + 1, s.batch);
    }
  }

  LrSchedule sched{opt_.lr, opt_.min_lr,
                   static_cast<int64_t>(opt_.warmup_epochs * static_cast<double>(per_epoch)),
                   opt_.epochs * per_epoch, opt_.schedule};
  const auto t_run = Clock::now();
  auto t_ckpt = Clock::now();
  int64_t images_this_run = 0;
  model_->train();

  while (s.epoch < opt_.epochs && !g_stop.load()) {
    train_.start_epoch(s.epoch, s.batch);
    const auto t_epoch = Clock::now();
    auto t_print = Clock::now();
    double loss_sum = 0.0;
    int64_t seen = 0, correct = 0;
    while (s.batch < per_epoch) {
      auto batch = train_.next();
      if (!batch) break;
      auto x = batch->images.to(device_);
      if (opt_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      auto y = batch->labels.to(device_);
      torch::Tensor soft;
      if (batch->soft_targets.defined()) soft = batch->soft_targets.to(device_);

      set_lr(*optimizer_, opt_, sched.at(s.step));
      if (whiten_bias.defined() && whiten_bias.requires_grad() && s.step >= whiten_bias_steps) {
        whiten_bias.requires_grad_(false);
        whiten_bias.mutable_grad() = torch::Tensor();  // undefined grad: the optimizer skips it
      }
      // The forward (student and teacher) runs under autocast when bf16; the loss takes the
      // logits in float32.
      torch::Tensor cls, dist, t_logits;
      {
        AutocastScope autocast(device_, bf16);
        std::tie(cls, dist) = model_->forward_train(x);
        if (teacher_) {
          torch::NoGradGuard ng;
          auto tx = x;
          const int ts = teacher_->config().img_size();
          if (ts != x.size(-1)) {
            tx = torch::nn::functional::interpolate(
                x, torch::nn::functional::InterpolateFuncOptions()
                       .size(std::vector<int64_t>{ts, ts})
                       .mode(torch::kBilinear)
                       .align_corners(false));
          }
          if (teacher_nhwc) tx = tx.contiguous(torch::MemoryFormat::ChannelsLast);
          t_logits = teacher_->forward(tx).to(torch::kFloat);
        }
      }
      cls = cls.to(torch::kFloat);
      if (dist.defined()) dist = dist.to(torch::kFloat);
      torch::Tensor loss;
      if (teacher_) {
        loss = distill_loss(cls, dist, t_logits, y, soft, opt_.distill);
      } else {
        loss = soft.defined() ? soft_cross_entropy(cls, soft)
                              : cross_entropy(cls, y, opt_.label_smoothing);
      }
      if (!std::isfinite(loss.item<double>()))
        throw Error(fmt::format("[{}] loss became {} at epoch {} batch {}: lower --lr or enable "
                                "gradient clipping",
                                opt_.stage, loss.item<double>(), s.epoch + 1, s.batch));
      optimizer_->zero_grad();
      loss.backward();
      if (opt_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), opt_.grad_clip);
      optimizer_->step();
      ++s.step;
      ++s.batch;
      if (lookahead_) lookahead_->after_step(*model_, s.step);

      const int64_t bs = x.size(0);
      seen += bs;
      images_this_run += bs;
      loss_sum += loss.item<double>() * bs;
      correct += cls.argmax(1).eq(y).sum().item<int64_t>();

      if (seconds_since(t_print) >= opt_.progress_seconds || s.batch == per_epoch) {
        const double ips = seen / std::max(1e-9, seconds_since(t_epoch));
        const double left_epoch = (per_epoch - s.batch) * bs / ips;
        const double left_total =
            left_epoch + (opt_.epochs - s.epoch - 1) * per_epoch * bs / ips;
        std::cerr << fmt::format(
            "[{}] epoch {}/{} batch {}/{} loss {:.4f} acc {:.1f}% lr {:.2e} {:.0f} img/s "
            "ETA epoch {} total {}\n",
            opt_.stage, s.epoch + 1, opt_.epochs, s.batch, per_epoch, loss_sum / seen,
            100.0 * correct / seen, sched.at(s.step), ips, hms(left_epoch), hms(left_total));
        t_print = Clock::now();
      }
      if (g_stop.load()) break;
      if (opt_.checkpoint_minutes > 0 && seconds_since(t_ckpt) >= opt_.checkpoint_minutes * 60) {
        save(s, false);
        t_ckpt = Clock::now();
      }
    }
    if (g_stop.load() && s.batch < per_epoch) break;

    const double train_seconds = seconds_since(t_epoch);
    if (lookahead_) lookahead_->sync(*model_);
    auto ev = evaluate(*model_, val_, device_);
    const bool last = s.epoch + 1 >= opt_.epochs;
    std::optional<EvalResult> ev_tta;
    if (last && opt_.eval_tta) ev_tta = evaluate(*model_, val_, device_, /*tta=*/true);
    model_->train();
    nlohmann::json line = {{"stage", opt_.stage},
                           {"epoch", s.epoch + 1},
                           {"train_loss", seen ? loss_sum / seen : 0.0},
                           {"train_acc", seen ? static_cast<double>(correct) / seen : 0.0},
                           {"val_loss", ev.loss},
                           {"val_acc", ev.accuracy},
                           {"lr", sched.at(s.step)},
                           {"seconds", train_seconds},
                           {"images_per_second", seen / std::max(1e-9, train_seconds)},
                           {"precision", precision_name(precision)}};
    if (ev_tta) line["val_acc_tta"] = ev_tta->accuracy;
    s.history.push_back(line);
    s.best = std::max(s.best, ev.accuracy);
    std::cerr << fmt::format("[{}] epoch {}/{} done: train loss {:.4f}, val loss {:.4f}, val acc "
                             "{:.2f}% ({:.0f} s)\n",
                             opt_.stage, s.epoch + 1, opt_.epochs, line["train_loss"].get<double>(),
                             ev.loss, 100.0 * ev.accuracy, train_seconds);
    if (ev_tta)
      std::cerr << fmt::format("[{}] val acc with flip+shift TTA (6 views): {:.2f}%\n", opt_.stage,
                               100.0 * ev_tta->accuracy);
    ++s.epoch;
    s.batch = 0;
    save(s, s.epoch >= opt_.epochs);
    t_ckpt = Clock::now();
    write_metrics(s.history);
  }
  if (g_stop.load() && s.epoch < opt_.epochs) {
    save(s, false);
    throw Error(fmt::format("[{}] stopped by signal; checkpoint '{}' saved at epoch {} batch {} "
                            "(rerun the same command: add --resume to train/distill; a pipeline resumes by itself)",
                            opt_.stage, ckpt_path_, s.epoch + 1, s.batch));
  }
  if (s.history.empty()) write_metrics(s.history);

  TrainResult r;
  r.history = s.history;
  r.epochs_done = s.epoch;
  r.best_val_accuracy = s.best;
  r.final_val_accuracy = s.history.empty() ? 0.0 : s.history.back()["val_acc"].get<double>();
  r.seconds = seconds_since(t_run);
  (void)images_this_run;
  model_->to(torch::kCPU);
  model_->eval();
  return r;
}

}  // namespace tinyvit::train
