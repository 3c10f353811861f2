// ops/loss.h — losses: fused softmax cross-entropy, crossentropy from
// probabilities (Keras), binary crossentropy, MSE/MAE/Huber. Each forward gives
// the per-sample loss; each backward takes dloss per sample and gives the
// gradient w.r.t. the prediction (logits or probabilities).
//
// Two kernel families:
//   class loss  ClassLossParams  x (N,C), labels sparse (N,) int32/int64 or dense (N,C) float32
//   reg loss    RegLossParams    pred, target (R, D) -> loss (R,), mean over D
#pragma once
#include <tuple>

#include "../dispatch.h"
#include "../tensor.h"

namespace pcn {

constexpr float kKerasEpsilon = 1e-7f;

enum class LabelKind : int { SparseI32 = 0, SparseI64 = 1, Dense = 2 };

// from_probs = false: x are logits; forward writes loss (N) and probs (N,C) = softmax(x);
//   backward reads probs and writes dlogits = dloss * (probs * sum(t) - t).
// from_probs = true: x are probabilities (Keras crossentropy, from_logits=False):
//   q = x / sum(x), c = clip(q, eps, 1-eps), loss = -sum t * log(c); probs_out unused (may be null);
//   backward reads x (the same probabilities) and writes dx.
struct ClassLossParams {
  int64_t N = 0, C = 0;
  LabelKind labels = LabelKind::SparseI64;
  bool from_probs = false;
  float eps = kKerasEpsilon;
  // CUDA only (the CPU front checks labels on the host first): device int64 holding >= N on entry; a
  // kernel that meets a sparse label outside [0, C) stores min(*bad_label, row) there (atomicMin) and
  // skips that label's element; the front reads it back after the kernel and raises the ValueError.
  int64_t* bad_label = nullptr;
};
using ClassLossFwdFn = void (*)(const ClassLossParams& p, const float* x, const void* labels, float* loss,
                                float* probs_out);
using ClassLossBwdFn = void (*)(const ClassLossParams& p, const float* x_or_probs, const void* labels,
                                const float* dloss, float* dx);
extern OpTable<ClassLossFwdFn> class_loss_forward_table;
extern OpTable<ClassLossBwdFn> class_loss_backward_table;

enum class RegLoss : int { Mse = 0, Mae, Huber, BceLogits, BceProbs };
// pred, target (R, D) contiguous; loss (R) = mean over D of the elementwise loss.
struct RegLossParams {
  RegLoss kind = RegLoss::Mse;
  int64_t R = 0, D = 0;
  float delta = 1.f;            // Huber
  float eps = kKerasEpsilon;    // BceProbs clip
};
using RegLossFwdFn = void (*)(const RegLossParams& p, const float* pred, const float* target, float* loss);
using RegLossBwdFn = void (*)(const RegLossParams& p, const float* pred, const float* target, const float* dloss,
                              float* dpred);
extern OpTable<RegLossFwdFn> reg_loss_forward_table;
extern OpTable<RegLossBwdFn> reg_loss_backward_table;

// ---------------------------------------------------------------- fronts
// Device labels: defer the range check's read-back (see ops/loss.cpp) until
// flush_label_checks(), which raises the first bad label's ValueError (discard:
// drop the queued checks). Per thread; CPU labels are always checked at once.
void set_defer_label_checks(bool on);
void flush_label_checks(bool discard = false);
std::tuple<Tensor, Tensor> softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels);
Tensor softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& dloss);
Tensor crossentropy_probs_forward(const Tensor& probs, const Tensor& labels);
Tensor crossentropy_probs_backward(const Tensor& probs, const Tensor& labels, const Tensor& dloss);
Tensor binary_crossentropy_forward(const Tensor& pred, const Tensor& target, bool from_logits);
Tensor binary_crossentropy_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss, bool from_logits);
Tensor mse_forward(const Tensor& pred, const Tensor& target);
Tensor mse_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss);
Tensor mae_forward(const Tensor& pred, const Tensor& target);
Tensor mae_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss);
Tensor huber_forward(const Tensor& pred, const Tensor& target, float delta);
Tensor huber_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss, float delta);

}  // namespace pcn
