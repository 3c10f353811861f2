// cpu/loss.cpp — OpenMP kernels of the loss family (see ops/loss.h).
// Rows are independent: parallel over rows, serial (vectorizable) over classes.
#include <omp.h>

#include <cmath>
#include <limits>

#include "../ops/loss.h"

namespace pcn {
namespace cpu {

namespace {
constexpr int64_t kPar = 1 << 14;

inline int64_t sparse_label(const ClassLossParams& p, const void* labels, int64_t i) {
  return p.labels == LabelKind::SparseI32 ? int64_t(static_cast<const int32_t*>(labels)[i])
                                          : static_cast<const int64_t*>(labels)[i];
}
inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
}  // namespace

// x (N,C) logits or probabilities; labels (N) or (N,C); loss (N); probs_out (N,C) for logits.
void class_loss_forward(const ClassLossParams& p, const float* x, const void* labels, float* loss, float* probs) {
  const int64_t N = p.N, C = p.C;
  const bool dense = p.labels == LabelKind::Dense;
  const float* t = static_cast<const float*>(labels);
#pragma omp parallel for schedule(static) if (N * C >= kPar && N > 1)
  for (int64_t i = 0; i < N; ++i) {
    const float* xr = x + i * C;
    if (!p.from_probs) {
      // log-sum-exp with the max subtracted: finite for any finite logits
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < C; ++c) m = std::fmax(m, xr[c]);
      bool nan = false;
      for (int64_t c = 0; c < C; ++c) nan |= xr[c] != xr[c];
      float* pr = probs + i * C;
      if (nan) {
        for (int64_t c = 0; c < C; ++c) pr[c] = std::numeric_limits<float>::quiet_NaN();
        loss[i] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) {
        const float e = std::exp(xr[c] - m);
        pr[c] = e;
        s += e;
      }
      const float inv = float(1.0 / s);
      for (int64_t c = 0; c < C; ++c) pr[c] *= inv;
      const double lse = double(m) + std::log(s);
      if (dense) {
        const float* tr = t + i * C;
        double l = 0.0;
        for (int64_t c = 0; c < C; ++c) l += double(tr[c]) * (lse - double(xr[c]));
        loss[i] = float(l);
      } else {
        loss[i] = float(lse - double(xr[sparse_label(p, labels, i)]));
      }
    } else {
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) s += xr[c];
      const float inv = float(1.0 / s);
      const float lo = p.eps, hi = 1.f - p.eps;
      if (dense) {
        const float* tr = t + i * C;
        double l = 0.0;
        for (int64_t c = 0; c < C; ++c) l -= double(tr[c]) * std::log(double(clampf(xr[c] * inv, lo, hi)));
        loss[i] = float(l);
      } else {
        const int64_t l = sparse_label(p, labels, i);
        loss[i] = -std::log(clampf(xr[l] * inv, lo, hi));
      }
    }
  }
}

// dx (N,C) = gradient of sum_i dloss[i] * loss[i]
void class_loss_backward(const ClassLossParams& p, const float* x, const void* labels, const float* dloss,
                         float* dx) {
  const int64_t N = p.N, C = p.C;
  const bool dense = p.labels == LabelKind::Dense;
  const float* t = static_cast<const float*>(labels);
#pragma omp parallel for schedule(static) if (N * C >= kPar && N > 1)
  for (int64_t i = 0; i < N; ++i) {
    const float* xr = x + i * C;
    float* dr = dx + i * C;
    const float g = dloss[i];
    if (!p.from_probs) {  // x = softmax probabilities of the forward
      if (dense) {
        const float* tr = t + i * C;
        float st = 0.f;
        for (int64_t c = 0; c < C; ++c) st += tr[c];
        for (int64_t c = 0; c < C; ++c) dr[c] = g * (xr[c] * st - tr[c]);
      } else {
        for (int64_t c = 0; c < C; ++c) dr[c] = g * xr[c];
        dr[sparse_label(p, labels, i)] -= g;
      }
    } else {
      // q = x/s; gq_c = -t_c/q_c inside (eps, 1-eps), 0 where clipped; dx_k = (gq_k - sum_c gq_c q_c)/s
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) s += xr[c];
      const float inv = float(1.0 / s);
      const float lo = p.eps, hi = 1.f - p.eps;
      const int64_t l = dense ? -1 : sparse_label(p, labels, i);
      double dot = 0.0;
      for (int64_t c = 0; c < C; ++c) {
        const float q = xr[c] * inv;
        const float tc = dense ? t[i * C + c] : (c == l ? 1.f : 0.f);
        const float gq = (q > lo && q < hi) ? -tc / q : 0.f;
        dr[c] = gq;
        dot += double(gq) * q;
      }
      const float d = float(dot);
      for (int64_t c = 0; c < C; ++c) dr[c] = g * (dr[c] - d) * inv;
    }
  }
}

namespace {
inline float reg_elem(const RegLossParams& p, float y, float t) {
  switch (p.kind) {
    case RegLoss::Mse: { const float e = y - t; return e * e; }
    case RegLoss::Mae: return std::fabs(y - t);
    case RegLoss::Huber: {
      const float e = std::fabs(y - t);
      return e <= p.delta ? 0.5f * e * e : p.delta * e - 0.5f * p.delta * p.delta;
    }
    case RegLoss::BceLogits:  // max(z,0) - z*t + log1p(exp(-|z|)): stable for any z
      return std::fmax(y, 0.f) - y * t + std::log1p(std::exp(-std::fabs(y)));
    case RegLoss::BceProbs: {
      const float q = y < p.eps ? p.eps : (y > 1.f - p.eps ? 1.f - p.eps : y);
      return -(t * std::log(q) + (1.f - t) * std::log(1.f - q));
    }
  }
  return 0.f;
}
inline float reg_grad(const RegLossParams& p, float y, float t) {
  switch (p.kind) {
    case RegLoss::Mse: return 2.f * (y - t);
    case RegLoss::Mae: { const float e = y - t; return e > 0.f ? 1.f : (e < 0.f ? -1.f : 0.f); }
    case RegLoss::Huber: {
      const float e = y - t;
      return std::fabs(e) <= p.delta ? e : (e > 0.f ? p.delta : -p.delta);
    }
    case RegLoss::BceLogits: {
      const float s = y >= 0.f ? 1.f / (1.f + std::exp(-y)) : std::exp(y) / (1.f + std::exp(y));
      return s - t;
    }
    case RegLoss::BceProbs:
      if (!(y > p.eps && y < 1.f - p.eps)) return 0.f;  // clipped: no gradient (as Keras' clip)
      return -t / y + (1.f - t) / (1.f - y);
  }
  return 0.f;
}
}  // namespace

// pred, target (R,D) -> loss (R)
void reg_loss_forward(const RegLossParams& p, const float* pred, const float* target, float* loss) {
  const int64_t R = p.R, D = p.D;
  const double inv = D ? 1.0 / double(D) : std::numeric_limits<double>::quiet_NaN();
#pragma omp parallel for schedule(static) if (R * D >= kPar && R > 1)
  for (int64_t i = 0; i < R; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < D; ++j) s += reg_elem(p, pred[i * D + j], target[i * D + j]);
    loss[i] = float(s * inv);
  }
}

// dpred (R,D) = dloss[i] / D * d elem / d pred
void reg_loss_backward(const RegLossParams& p, const float* pred, const float* target, const float* dloss,
                       float* dpred) {
  const int64_t R = p.R, D = p.D;
#pragma omp parallel for schedule(static) if (R * D >= kPar && R > 1)
  for (int64_t i = 0; i < R; ++i) {
    const float g = dloss[i] / float(D);
    for (int64_t j = 0; j < D; ++j) dpred[i * D + j] = g * reg_grad(p, pred[i * D + j], target[i * D + j]);
  }
}

}  // namespace cpu
}  // namespace pcn
