// ops/loss.cpp — fronts of the loss family (see ops/loss.h).
#include "loss.h"

#include <limits>
#include <utility>
#include <vector>

#include "elementwise.h"

namespace pcn {

namespace cpu {
void class_loss_forward(const ClassLossParams&, const float*, const void*, float*, float*);
void class_loss_backward(const ClassLossParams&, const float*, const void*, const float*, float*);
void reg_loss_forward(const RegLossParams&, const float*, const float*, float*);
void reg_loss_backward(const RegLossParams&, const float*, const float*, const float*, float*);
}  // namespace cpu

OpTable<ClassLossFwdFn> class_loss_forward_table{"class_loss_forward", cpu::class_loss_forward, nullptr};
OpTable<ClassLossBwdFn> class_loss_backward_table{"class_loss_backward", cpu::class_loss_backward, nullptr};
OpTable<RegLossFwdFn> reg_loss_forward_table{"reg_loss_forward", cpu::reg_loss_forward, nullptr};
OpTable<RegLossBwdFn> reg_loss_backward_table{"reg_loss_backward", cpu::reg_loss_backward, nullptr};

[[noreturn]] static void throw_bad_label(const char* op, int64_t l, int64_t i, int64_t C) {
  PCN_THROW(ValueError, op << ": label " << l << " at index " << i << " is out of range [0, " << C << ") for C=" << C
                           << " classes");
}

// x (N,C) float32; labels sparse (N,) int32/int64/uint8 in [0,C) or dense (N,C) float32.
// Returns the contiguous labels (uint8 widened to int64) and fills p.
static Tensor check_class_inputs(const Tensor& x, const Tensor& labels0, const char* op, const char* xname,
                                 ClassLossParams& p) {
  check_float(x, op, xname);
  if (x.ndim() != 2)
    PCN_THROW(ValueError, op << ": " << xname << " must be 2-D (N, C), got shape " << shape_str(x.shape()));
  check_defined(labels0, op, "labels");
  check_same_device(x, labels0, op);
  p.N = x.dim(0);
  p.C = x.dim(1);
  PCN_CHECK(p.C >= 1 || p.N == 0, op << ": " << xname << " has no classes: shape " << shape_str(x.shape()));
  Tensor labels = labels0.contiguous();
  if (labels.dtype() == DType::F32) {
    if (labels.shape() != x.shape())
      PCN_THROW(ValueError, op << ": float labels must be one-hot/soft (N, C) = " << shape_str(x.shape())
                               << ", got " << shape_str(labels.shape())
                               << " (sparse class indices must be int32 or int64)");
    p.labels = LabelKind::Dense;
    return labels;
  }
  if (labels.ndim() != 1 || labels.dim(0) != p.N)
    PCN_THROW(ValueError, op << ": sparse labels must be (N,) = (" << p.N << ",), got " << shape_str(labels.shape()));
  if (labels.dtype() == DType::U8) labels = cast(labels, DType::I64);
  p.labels = labels.dtype() == DType::I32 ? LabelKind::SparseI32 : LabelKind::SparseI64;
  // Device labels are range-checked by the kernel itself (see LabelCheck below).
  if (!labels.device().is_cpu()) return labels;
  // range check on the host (kernels trust their inputs)
  for (int64_t i = 0; i < p.N; ++i) {
    const int64_t l = p.labels == LabelKind::SparseI32 ? int64_t(labels.data<int32_t>()[i]) : labels.data<int64_t>()[i];
    if (l < 0 || l >= p.C) throw_bad_label(op, l, i, p.C);
  }
  return labels;
}

// Sparse labels on a device: the CUDA kernels skip an out-of-range label and
// atomicMin its row into *p.bad_label (>= N on entry); after the kernel the front
// copies that one int64 back and raises the CPU's ValueError for the first bad
// row. Construct before the kernel call, check() after it.
//
// Reading the flag back waits for the device. Inside a training step that stall
// sits between the forward and the backward (and again after the loss's
// backward), so the GPU idles while Python queues the next phase. With
// set_defer_label_checks(true) (per thread) check() only queues the flag;
// flush_label_checks() reads every queued flag and raises the first bad label's
// ValueError. fit() defers within a step and flushes before the optimizer
// update, so a bad label still stops training before any weight changes.
struct LabelFlag {
  Tensor flag, labels;
  const char* op;
  int64_t N, C;
  void check() const {
    const int64_t i = flag.to(Device{}).data<int64_t>()[0];
    if (i >= N) return;
    const Tensor hl = cast(slice_axis(labels, 0, i, i + 1), DType::I64).to(Device{});
    throw_bad_label(op, hl.data<int64_t>()[0], i, C);
  }
};
static thread_local bool g_defer_label_checks = false;
static thread_local std::vector<LabelFlag> g_pending_label_checks;

struct LabelCheck {
  LabelFlag f;
  LabelCheck(ClassLossParams& p, const Tensor& lab, const char* op) : f{Tensor(), lab, op, p.N, p.C} {
    if (lab.device().is_cpu() || p.labels == LabelKind::Dense || p.N == 0) return;
    // 0x7fffffff7fffffff (>= N: "no bad row") by the device fill: no host-to-device copy
    f.flag = Tensor::empty({1}, DType::I64, lab.device());
    f.flag.fill_u32(0x7fffffffu);
    p.bad_label = f.flag.data<int64_t>();
  }
  void check() const {
    if (!f.flag.defined()) return;
    if (g_defer_label_checks) g_pending_label_checks.push_back(f);
    else f.check();
  }
};

void set_defer_label_checks(bool on) { g_defer_label_checks = on; }

void flush_label_checks(bool discard) {
  std::vector<LabelFlag> pending;
  pending.swap(g_pending_label_checks);
  if (discard) return;
  for (const LabelFlag& f : pending) f.check();
}

static Tensor check_dloss(const Tensor& dloss0, int64_t N, const Tensor& x, const char* op) {
  check_float(dloss0, op, "dloss");
  check_same_device(dloss0, x, op);
  if (dloss0.ndim() != 1 || dloss0.dim(0) != N)
    PCN_THROW(ValueError, op << ": dloss must be (N,) = (" << N << ",), got " << shape_str(dloss0.shape()));
  return dloss0.contiguous();
}

std::tuple<Tensor, Tensor> softmax_cross_entropy_forward(const Tensor& logits0, const Tensor& labels0) {
  const char* op = "softmax_cross_entropy_forward";
  ClassLossParams p;
  const Tensor labels = check_class_inputs(logits0, labels0, op, "logits", p);
  const Tensor logits = logits0.contiguous();
  Tensor loss = Tensor::empty({p.N}, DType::F32, logits.device());
  Tensor probs = Tensor::empty(logits.shape(), DType::F32, logits.device());
  const LabelCheck lc(p, labels, op);
  if (p.N && p.C)
    class_loss_forward_table.get(logits.device())(p, logits.data<float>(), labels.raw(), loss.data<float>(),
                                                  probs.data<float>());
  lc.check();
  return {loss, probs};
}

Tensor softmax_cross_entropy_backward(const Tensor& probs0, const Tensor& labels0, const Tensor& dloss0) {
  const char* op = "softmax_cross_entropy_backward";
  ClassLossParams p;
  const Tensor labels = check_class_inputs(probs0, labels0, op, "probs", p);
  const Tensor dloss = check_dloss(dloss0, p.N, probs0, op);
  const Tensor probs = probs0.contiguous();
  Tensor dx = Tensor::empty(probs.shape(), DType::F32, probs.device());
  const LabelCheck lc(p, labels, op);
  if (p.N && p.C)
    class_loss_backward_table.get(probs.device())(p, probs.data<float>(), labels.raw(), dloss.data<float>(),
                                                  dx.data<float>());
  lc.check();
  return dx;
}

Tensor crossentropy_probs_forward(const Tensor& probs0, const Tensor& labels0) {
  const char* op = "crossentropy_probs_forward";
  ClassLossParams p;
  p.from_probs = true;
  const Tensor labels = check_class_inputs(probs0, labels0, op, "probs", p);
  const Tensor probs = probs0.contiguous();
  Tensor loss = Tensor::empty({p.N}, DType::F32, probs.device());
  const LabelCheck lc(p, labels, op);
  if (p.N && p.C)
    class_loss_forward_table.get(probs.device())(p, probs.data<float>(), labels.raw(), loss.data<float>(), nullptr);
  lc.check();
  return loss;
}

Tensor crossentropy_probs_backward(const Tensor& probs0, const Tensor& labels0, const Tensor& dloss0) {
  const char* op = "crossentropy_probs_backward";
  ClassLossParams p;
  p.from_probs = true;
  const Tensor labels = check_class_inputs(probs0, labels0, op, "probs", p);
  const Tensor dloss = check_dloss(dloss0, p.N, probs0, op);
  const Tensor probs = probs0.contiguous();
  Tensor dx = Tensor::empty(probs.shape(), DType::F32, probs.device());
  const LabelCheck lc(p, labels, op);
  if (p.N && p.C)
    class_loss_backward_table.get(probs.device())(p, probs.data<float>(), labels.raw(), dloss.data<float>(),
                                                  dx.data<float>());
  lc.check();
  return dx;
}

// pred/target same shape, rank >= 1; per-sample loss has shape pred.shape[:-1].
static RegLossParams reg_params(const Tensor& pred, const Tensor& target, RegLoss kind, const char* op) {
  check_float(pred, op, "y_pred");
  check_float(target, op, "y_true");
  check_same_device(pred, target, op);
  PCN_CHECK(pred.ndim() >= 1, op << ": y_pred must have rank >= 1, got a scalar");
  if (pred.shape() != target.shape())
    PCN_THROW(ValueError, op << ": y_true shape " << shape_str(target.shape()) << " does not match y_pred shape "
                             << shape_str(pred.shape()));
  RegLossParams p;
  p.kind = kind;
  p.D = pred.dim(-1);
  p.R = 0;  // set by the caller from the per-sample shape
  return p;
}

static std::vector<int64_t> lead_shape(const Tensor& t) {
  return std::vector<int64_t>(t.shape().begin(), t.shape().end() - 1);
}

static Tensor reg_forward(const Tensor& pred0, const Tensor& target0, RegLoss kind, float delta, const char* op) {
  RegLossParams p = reg_params(pred0, target0, kind, op);
  p.delta = delta;
  const Tensor pred = pred0.contiguous(), target = target0.contiguous();
  Tensor loss = Tensor::empty(lead_shape(pred), DType::F32, pred.device());
  p.R = loss.numel();
  if (p.R) {
    if (p.D == 0) fill_(loss, std::numeric_limits<float>::quiet_NaN());  // mean of nothing (NumPy)
    else reg_loss_forward_table.get(pred.device())(p, pred.data<float>(), target.data<float>(), loss.data<float>());
  }
  return loss;
}

static Tensor reg_backward(const Tensor& pred0, const Tensor& target0, const Tensor& dloss0, RegLoss kind,
                           float delta, const char* op) {
  RegLossParams p = reg_params(pred0, target0, kind, op);
  p.delta = delta;
  check_float(dloss0, op, "dloss");
  check_same_device(dloss0, pred0, op);
  const std::vector<int64_t> ls = lead_shape(pred0);
  if (dloss0.shape() != ls)
    PCN_THROW(ValueError, op << ": dloss must have the per-sample shape " << shape_str(ls) << ", got "
                             << shape_str(dloss0.shape()));
  const Tensor pred = pred0.contiguous(), target = target0.contiguous(), dloss = dloss0.contiguous();
  Tensor dx = Tensor::empty(pred.shape(), DType::F32, pred.device());
  p.R = dloss.numel();
  if (pred.numel())
    reg_loss_backward_table.get(pred.device())(p, pred.data<float>(), target.data<float>(), dloss.data<float>(),
                                               dx.data<float>());
  return dx;
}

static void check_delta(float delta, const char* op) {
  PCN_CHECK(delta > 0.f, op << ": delta must be > 0, got " << delta);
}

Tensor binary_crossentropy_forward(const Tensor& pred, const Tensor& target, bool from_logits) {
  return reg_forward(pred, target, from_logits ? RegLoss::BceLogits : RegLoss::BceProbs, 1.f,
                     "binary_crossentropy_forward");
}
Tensor binary_crossentropy_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss, bool from_logits) {
  return reg_backward(pred, target, dloss, from_logits ? RegLoss::BceLogits : RegLoss::BceProbs, 1.f,
                      "binary_crossentropy_backward");
}
Tensor mse_forward(const Tensor& pred, const Tensor& target) {
  return reg_forward(pred, target, RegLoss::Mse, 1.f, "mse_forward");
}
Tensor mse_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss) {
  return reg_backward(pred, target, dloss, RegLoss::Mse, 1.f, "mse_backward");
}
Tensor mae_forward(const Tensor& pred, const Tensor& target) {
  return reg_forward(pred, target, RegLoss::Mae, 1.f, "mae_forward");
}
Tensor mae_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss) {
  return reg_backward(pred, target, dloss, RegLoss::Mae, 1.f, "mae_backward");
}
Tensor huber_forward(const Tensor& pred, const Tensor& target, float delta) {
  check_delta(delta, "huber_forward");
  return reg_forward(pred, target, RegLoss::Huber, delta, "huber_forward");
}
Tensor huber_backward(const Tensor& pred, const Tensor& target, const Tensor& dloss, float delta) {
  check_delta(delta, "huber_backward");
  return reg_backward(pred, target, dloss, RegLoss::Huber, delta, "huber_backward");
}

}  // namespace pcn
