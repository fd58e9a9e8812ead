#include "train/losses.h"

namespace tinyvit::train {

namespace F = torch::nn::functional;

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                            double label_smoothing) {
  return F::cross_entropy(logits, labels,
                          F::CrossEntropyFuncOptions().label_smoothing(label_smoothing));
}

torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& soft) {
  return -(soft * torch::log_softmax(logits, 1)).sum(1).mean();
}

torch::Tensor kd_kl(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                    double T) {
  auto log_p_s = torch::log_softmax(student_logits / T, 1);
  auto log_p_t = torch::log_softmax(teacher_logits / T, 1);
  // KL(p_t || p_s) = sum p_t (log p_t - log p_s); mean over the batch, scaled by T^2 so its
  // gradient magnitude does not shrink as T grows (Hinton et al., 2015).
  return (log_p_t.exp() * (log_p_t - log_p_s)).sum(1).mean() * (T * T);
}

torch::Tensor distill_loss(const torch::Tensor& cls, const torch::Tensor& dist,
                           const torch::Tensor& teacher, const torch::Tensor& labels,
                           const torch::Tensor& soft, const DistillLossOptions& o) {
  auto ce = [&](const torch::Tensor& logits) {
    return soft.defined() ? soft_cross_entropy(logits, soft)
                          : cross_entropy(logits, labels, o.label_smoothing);
  };
  if (o.hard) {
    const auto& d = dist.defined() ? dist : cls;
    return 0.5 * ce(cls) + 0.5 * cross_entropy(d, teacher.argmax(1), 0.0);
  }
  // Soft: a distillation-token head (if any) is trained on the teacher term, the class head on
  // the labels; without one, both terms act on the class head.
  const auto& d = dist.defined() ? dist : cls;
  return o.alpha * kd_kl(d, teacher, o.temperature) + (1.0 - o.alpha) * ce(cls);
}

}  // namespace tinyvit::train
