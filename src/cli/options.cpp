#include "cli/options.h"

namespace tinyvit::cli {

void add_switch(CLI::App* cmd, const std::string& name, bool& value, const std::string& help) {
  // trigger_on_parse: each callback runs when its flag is read, so the order on the line counts.
  cmd->add_flag_callback("--" + name, [&value] { value = true; },
                         help + (value ? " (default: on)" : " (default: off)"))
      ->trigger_on_parse();
  cmd->add_flag_callback("--no-" + name, [&value] { value = false; }, "Turn --" + name + " off")
      ->trigger_on_parse();
}

void add_precision_option(CLI::App* cmd, std::string& precision) {
  cmd->add_option("--precision", precision,
                  "fp32 | bf16 (forward under autocast) | auto (bf16 where the CPU has "
                  "AVX512-BF16/AMX or on CUDA)")
      ->check(CLI::IsMember({"fp32", "bf16", "auto"}))
      ->capture_default_str();
}

void add_data_options(CLI::App* cmd, pipeline::DataConfig& d) {
  cmd->add_option("--data", d.path,
                  "Image folders, a .tar.gz of them, or CIFAR-10 .bin (file or folder)")
      ->required();
  cmd->add_option("--val-size", d.val_size, "Validation images (class-stratified, seeded)")
      ->capture_default_str();
  cmd->add_option("--train-limit", d.train_limit, "Use at most N training images (0 = all)")
      ->capture_default_str();
  cmd->add_option("--val-limit", d.val_limit, "Use at most N validation images (0 = all)")
      ->capture_default_str();
  cmd->add_option("--split-seed", d.split_seed, "Seed of the train/validation split")
      ->capture_default_str();
  cmd->add_option("--cache-dir", d.cache_dir, "Decoded-dataset cache ('' = none)")
      ->capture_default_str();
  cmd->add_flag("--skip-bad", d.skip_bad, "Skip undecodable images (count printed)");
  cmd->add_option("--workers", d.workers, "Loader threads")->capture_default_str();
  cmd->add_option("--store-size", d.store_size, "Side length images are decoded/cached at")
      ->capture_default_str();
}

void add_stage_options(CLI::App* cmd, pipeline::StageConfig& s, bool student) {
  auto& t = s.train;
  auto& a = s.aug;
  cmd->add_option("--init", s.init, "Start from this checkpoint's weights (e.g. imported)");
  cmd->add_option("--epochs", t.epochs)->capture_default_str();
  cmd->add_option("--batch-size", s.batch_size)->capture_default_str();
  cmd->add_option("--optimizer", t.optimizer, "adamw | sgd")
      ->check(CLI::IsMember({"adamw", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--lr", t.lr, "Peak learning rate (after warmup)")->capture_default_str();
  cmd->add_option("--min-lr", t.min_lr, "Cosine floor")->capture_default_str();
  cmd->add_option("--weight-decay", t.weight_decay, "Not applied to norms/biases/tokens")
      ->capture_default_str();
  cmd->add_flag("--decay-norms-and-biases", t.decay_norms_and_biases,
                "Apply weight decay to every parameter (airbench)");
  cmd->add_option("--momentum", t.momentum, "SGD momentum (Nesterov)")->capture_default_str();
  cmd->add_option("--warmup-epochs", t.warmup_epochs)->capture_default_str();
  cmd->add_option("--schedule", t.schedule, "cosine | triangular (0.2x -> peak -> min-lr)")
      ->check(CLI::IsMember({"cosine", "triangular"}))
      ->capture_default_str();
  cmd->add_option("--norm-bias-lr-scale", t.norm_bias_lr_scale,
                  "Learning-rate multiplier of norm-layer biases")
      ->capture_default_str();
  cmd->add_flag("--lookahead", t.lookahead, "Lookahead slow-weight averaging (train/lookahead.h)");
  cmd->add_option("--lookahead-start-epochs", t.lookahead_start_epochs)->capture_default_str();
  cmd->add_option("--whiten-bias-epochs", t.whiten_bias_epochs,
                  "cnn: freeze the whitening stem's bias after N epochs (0 = never)")
      ->capture_default_str();
  cmd->add_flag("--eval-tta", t.eval_tta,
                "Also report the last epoch's validation accuracy with flip+shift TTA");
  cmd->add_option("--label-smoothing", t.label_smoothing)->capture_default_str();
  cmd->add_option("--grad-clip", t.grad_clip, "Max gradient L2 norm (0 = off)")
      ->capture_default_str();
  add_switch(cmd, "channels-last", t.channels_last,
             "NHWC memory format (faster convolutions on CPU)");
  add_precision_option(cmd, t.precision);
  cmd->add_option("--checkpoint-minutes", t.checkpoint_minutes,
                  "Also checkpoint inside an epoch every N minutes (0 = epoch ends only)")
      ->capture_default_str();
  cmd->add_option("--max-steps-per-epoch", t.max_steps_per_epoch, "Cut epochs short (tests)")
      ->capture_default_str();
  add_switch(cmd, "random-crop", a.random_crop, "Random crop with padding");
  cmd->add_option("--crop-padding", a.crop_padding)->capture_default_str();
  cmd->add_flag("--reflect-padding", a.reflect_padding, "Pad crops with the mirror image, not zeros");
  add_switch(cmd, "hflip", a.hflip, "Random horizontal flip");
  cmd->add_flag("--alternating-flip", a.alternating_flip,
                "Flip each image in every other epoch (random phase per image) instead");
  cmd->add_option("--randaugment-ops", a.randaugment_ops, "RandAugment ops per image (0 = off)")
      ->capture_default_str();
  cmd->add_option("--randaugment-magnitude", a.randaugment_magnitude, "0..10")
      ->capture_default_str();
  cmd->add_option("--mixup", a.mixup_alpha, "Mixup Beta(alpha, alpha); 0 = off")
      ->capture_default_str();
  cmd->add_option("--cutmix", a.cutmix_alpha, "CutMix Beta(alpha, alpha); 0 = off")
      ->capture_default_str();
  cmd->add_option("--random-erasing", a.random_erasing, "Probability")->capture_default_str();
  cmd->add_option("--drop-path", s.drop_path, "ViT stochastic depth rate")->capture_default_str();
  if (student) {
    cmd->add_flag("--distill-token", s.distill_token, "DeiT distillation token (ViT students)");
    cmd->add_option("--alpha", t.distill.alpha, "Weight of the teacher (KL) term")
        ->capture_default_str();
    cmd->add_option("--temperature", t.distill.temperature, "Softmax temperature T")
        ->capture_default_str();
    cmd->add_flag("--hard", t.distill.hard, "DeiT hard distillation (teacher argmax as label)");
  }
}

void add_runtime_options(CLI::App* cmd, int& threads, std::string& device, uint64_t& seed) {
  cmd->add_option("--threads", threads, "Compute threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--device", device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--seed", seed, "Seed of initialisation, data order and augmentation")
      ->capture_default_str();
}

}  // namespace tinyvit::cli
