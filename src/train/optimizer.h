#pragma once
// The optimizer of a training run and its per-step learning rate.
// Parameter groups: [0] weight matrices / kernels with weight decay; [1] everything else
// (norm scales, biases, cls/dist tokens, pos_embed) without; [2] only when
// norm_bias_lr_scale != 1: the biases of norm layers (names ".../norm*.bias") at
// lr x norm_bias_lr_scale, no decay. With decay_norms_and_biases (airbench), [0] holds every
// parameter except [2]'s, [1] is empty, and [2] decays with weight_decay / norm_bias_lr_scale
// (the same lr x wd per step as [0]). Frozen parameters (requires_grad false) get no gradient,
// so no step and no decay.
#include <torch/torch.h>

#include <memory>

#include "models/model.h"
#include "train/trainer.h"

namespace tinyvit::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(models::Classifier& model,
                                                        const TrainOptions& o);

// Sets every group's lr for this step: `lr`, times norm_bias_lr_scale for group [2].
void set_lr(torch::optim::Optimizer& opt, const TrainOptions& o, double lr);

// Moves every per-parameter state tensor (AdamW's exp_avg / exp_avg_sq / max_exp_avg_sq, SGD's
// momentum_buffer) to `device`. LibTorch's Optimizer::load leaves the state where the archive
// put it and Optimizer::save writes it where it is: checkpoints hold it on the CPU, and a run
// moves it to its training device after loading.
void move_optimizer_state(torch::optim::Optimizer& opt, const torch::Device& device);

}  // namespace tinyvit::train
