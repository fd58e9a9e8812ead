#pragma once
// Losses. logits: (B, K); labels: (B,) int64; soft: (B, K) rows summing to 1.
#include <torch/torch.h>

namespace tinyvit::train {

// Cross-entropy with label smoothing eps: target = (1 - eps) * onehot + eps / K.
torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                            double label_smoothing);
// Cross-entropy against soft targets (mixup / cutmix): -sum_k soft_k * log_softmax(logits)_k.
torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& soft);

// Hinton distillation term: T^2 * KL(softmax(teacher/T) || softmax(student/T)), batch mean.
torch::Tensor kd_kl(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                    double temperature);

// loss = alpha * kd_kl(s, t, T) + (1 - alpha) * CE(s, labels or soft)
struct DistillLossOptions {
  double alpha = 0.5;
  double temperature = 4.0;
  double label_smoothing = 0.1;
  bool hard = false;  // DeiT hard distillation (see distill_loss)
};

// Soft (default): alpha * KL + (1 - alpha) * CE(cls, y).
// Hard (DeiT):    0.5 * CE(cls, y) + 0.5 * CE(dist, argmax teacher), using the distillation
//                 token head when the student has one (`dist` defined), else the class head.
torch::Tensor distill_loss(const torch::Tensor& cls, const torch::Tensor& dist,
                           const torch::Tensor& teacher, const torch::Tensor& labels,
                           const torch::Tensor& soft, const DistillLossOptions& o);

}  // namespace tinyvit::train
