// common.h — the Params structs shared by the CPU and CUDA kernels, shape
// arithmetic shared by both (PCN_HD), and the error macros used by the fronts.
//
// Kernels trust their Params: the fronts in csrc/ops validate, compute shapes
// and allocate; a kernel may only assert.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "math_hd.h"  // PCN_HD

namespace pcn {

// ---------------------------------------------------------------- errors
// ValueError / TypeError / RuntimeError map 1:1 to the Python exceptions of the
// same name (see csrc/bind/module.cpp). Messages name the op, what it got and
// what it expected.
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define PCN_THROW(Kind, msg_stream)             \
  do {                                          \
    std::ostringstream pcn_os_;                 \
    pcn_os_ << msg_stream;                      \
    throw ::pcn::Kind(pcn_os_.str());           \
  } while (0)

// PCN_CHECK(cond, "conv2d: input must be 4-D (N,H,W,C), got " << nd << "-D")
#define PCN_CHECK(cond, msg_stream) \
  do {                              \
    if (!(cond)) PCN_THROW(ValueError, msg_stream); \
  } while (0)
#define PCN_CHECK_TYPE(cond, msg_stream) \
  do {                                   \
    if (!(cond)) PCN_THROW(TypeError, msg_stream); \
  } while (0)

// Largest element count a single tensor may have. Kernels index with int64,
// but we refuse sizes whose byte count could not be allocated or overflows.
constexpr int64_t kMaxNumel = int64_t(1) << 40;

// ---------------------------------------------------------------- GEMM
// C(M,N) = alpha * op(A) * op(B) + beta * C, all row-major.
// op(A) is (M,K): A is (M,K) with lda >= K, or (K,M) with lda >= M when transA.
// op(B) is (K,N): B is (K,N) with ldb >= N, or (N,K) with ldb >= K when transB.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored).
struct GemmParams {
  bool transA = false, transB = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  int64_t lda = 0, ldb = 0, ldc = 0;
};

// ---------------------------------------------------------------- conv2d
// x (N,H,W,C) NHWC; w (KH,KW,C/groups,K) HWIO; b (K); y (N,OH,OW,K).
// Output channel k belongs to group k / (K/groups) and reads input channels
// [g*C/groups, (g+1)*C/groups).
struct Conv2dParams {
  int64_t N = 0, H = 0, W = 0, C = 0;
  int64_t KH = 0, KW = 0, K = 0;
  int64_t groups = 1;
  int64_t sh = 1, sw = 1;
  int64_t dh = 1, dw = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t OH = 0, OW = 0;
  int activation = 0;  // fused epilogue: 0 none, 1 relu (forward only)
};

// Output size of one spatial dimension (any padding already resolved).
PCN_HD int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dil,
                             int64_t pad_lo, int64_t pad_hi) {
  const int64_t eff = (k - 1) * dil + 1;
  const int64_t span = in + pad_lo + pad_hi - eff;
  return span < 0 ? 0 : span / stride + 1;
}

// TensorFlow's "SAME": out = ceil(in/stride); total pad split with the extra
// element at the bottom/right. Writes pad_lo/pad_hi and returns out.
PCN_HD int64_t same_padding(int64_t in, int64_t k, int64_t stride, int64_t dil,
                            int64_t* pad_lo, int64_t* pad_hi) {
  const int64_t eff = (k - 1) * dil + 1;
  const int64_t out = (in + stride - 1) / stride;
  int64_t total = (out - 1) * stride + eff - in;
  if (total < 0) total = 0;
  *pad_lo = total / 2;
  *pad_hi = total - total / 2;
  return out;
}

// ---------------------------------------------------------------- pooling
// x (N,H,W,C) NHWC; y (N,OH,OW,OC). A window covers kh x kw x kc elements
// (kc > 1 pools over depth, like tf.nn.max_pool with ksize (1,1,1,kc)).
// Average pooling divides by the number of non-padding elements in the window
// (TensorFlow's rule). Max-pool backward routes to the first maximum.
enum class PoolMode : int { Max = 0, Avg = 1 };
struct Pool2dParams {
  int64_t N = 0, H = 0, W = 0, C = 0;
  int64_t kh = 1, kw = 1, kc = 1;
  int64_t sh = 1, sw = 1, sc = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t OH = 0, OW = 0, OC = 0;
  PoolMode mode = PoolMode::Max;
};

// ---------------------------------------------------------------- RNN
// x (N,T,I); kernel (I, G*U); recurrent_kernel (U, G*U); bias (G*U), or
// (2, G*U) for GRU with reset_after (input bias row 0, recurrent bias row 1).
// G = 1 (SimpleRNN), 4 (LSTM: i,f,c,o), 3 (GRU: z,r,h). Keras layouts.
enum class RnnCell : int { SimpleTanh = 0, SimpleRelu = 1, Lstm = 2, Gru = 3 };
struct RnnParams {
  RnnCell cell = RnnCell::SimpleTanh;
  int64_t N = 0, T = 0, I = 0, U = 0;
  int64_t G = 1;               // gates per unit
  bool go_backwards = false;   // process t = T-1 .. 0 (outputs in processing order, as Keras)
  bool has_initial_state = false;
  bool reset_after = true;     // GRU only; false is Keras 2's (v1) variant
};

PCN_HD int64_t rnn_gates(RnnCell c) {
  return c == RnnCell::Lstm ? 4 : (c == RnnCell::Gru ? 3 : 1);
}

}  // namespace pcn
