// cpu/rnn.cpp — SimpleRNN / LSTM / GRU over a whole sequence, forward and
// backward through time (Keras 3 semantics; shapes and the workspace layout
// are documented in ops/rnn.h).
//
// Forward:  W and R packed once into column panels (isa/rnn.cpp); per
//           processing step s (time t = s, or T-1-s with go_backwards):
//             HU = x_t (N,I) @ W + h_prev (N,U) @ R  (one kernel pass with
//             two products; GRU keeps x_t W apart for the reset gate)
//           with the packed small-M kernel: the panels stay in cache across
//           steps, ~5 % faster than one big XW GEMM + per-step R products.
//           Batches under 16 rows: XW = X (N*T, I) @ W as one big GEMM first.
//             fused pointwise gate loop over (n, u) (OpenMP over n when large)
// Backward: per step (reverse processing order) a fused pointwise loop writes
//           the pre-activation gradients dZ[n,t,:] and one GEMM carries
//           dh_prev = dZ_t @ R^T (+ direct terms); then, once for all steps:
//           dx = dZ @ W^T, dW = X^T dZ, dR = P^T dZ (P = saved h_prev, laid
//           out like x so this is one GEMM), db = column sums of dZ.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "../common.h"
#include "gemm.h"
#include "isa/rnn_isa.h"

namespace pcn {
namespace cpu {

namespace {

// Packed small-M products for the per-step recurrent GEMMs (isa/rnn.cpp).
void pack_b(const float* B, int64_t ldb, bool trans, int64_t K, int64_t Nc, float* Bp) {
  PCN_ISA_CALL(rnn_pack_b, B, ldb, trans, K, Nc, Bp);
}
void gemm_packed(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* Bp, bool accumulate,
                 float* C, int64_t ldc) {
  PCN_ISA_CALL(rnn_gemm_packed, M, Nc, K, A, lda, Bp, accumulate, C, ldc);
}

// Parallelize the pointwise loops over the batch only when there is enough work.
constexpr int64_t kParWork = 1 << 14;

// C (M,Ncols) [ldc] = alpha * op(A) op(B) + beta * C with explicit leading dimensions.
void gemm(bool ta, bool tb, int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmParams g;
  g.transA = ta; g.transB = tb; g.M = M; g.N = Nc; g.K = K; g.alpha = 1.f; g.beta = beta;
  g.lda = lda; g.ldb = ldb; g.ldc = ldc;
  sgemm(g, A, B, C);
}

// out[j] = sum_r M[r*ld + j], r < rows, j < cols (overwrites out).
void column_sums(const float* M, int64_t rows, int64_t cols, int64_t ld, float* out) {
  PCN_ISA_CALL(rnn_column_sums, M, rows, cols, ld, out);
}

// Run fn(n0, n1, inner) over the batch: one OpenMP region whose threads own
// disjoint row ranges for the whole sequence when there are enough rows
// (>= 4 per thread) and work; else one call with inner = inner_par, which
// parallelizes within each step.
template <class Fn>
void for_row_ranges(int64_t N, int64_t work_per_row, bool inner_par, Fn&& fn) {
  const int nth = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (nth > 1 && N >= 4 * nth && N * work_per_row >= (int64_t(1) << 20)) {
#pragma omp parallel num_threads(nth)
    {
      const int64_t k = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t chunk = (N + nt - 1) / nt;
      const int64_t n0 = std::min(N, k * chunk), n1 = std::min(N, n0 + chunk);
      fn(n0, n1, false);
    }
  } else {
    fn(int64_t(0), N, inner_par);
  }
}

}  // namespace

// x (N,T,I); W (I,GU); R (U,GU); b null or GU floats (2*GU for GRU reset_after);
// h0/c0 null or (N,U); out (N,T,U) processing order; hT (N,U); cT (N,U) LSTM
// only (also used as the running cell state); ws see ops/rnn.h;
// scratch: XW (N*T,GU), HU (N,GU), R packed for the step products
// (rnn_packed_floats(U,GU); GRU v1: (U,2U) then (U,U)), then 2*GU zeros.
// When x_t W runs per step (fuse_x) the XW area holds W packed, then (GRU)
// the step's x_t W (N,GU).
void rnn_forward(const RnnParams& p, const float* x, const float* W, const float* R, const float* b,
                 const float* h0, const float* c0, float* out, float* hT, float* cT, float* ws, float* scratch) {
  const int64_t N = p.N, T = p.T, I = p.I, U = p.U, GU = p.G * p.U, NT = N * T;
  const bool lstm = p.cell == RnnCell::Lstm, gru = p.cell == RnnCell::Gru, relu = p.cell == RnnCell::SimpleRelu;
  const bool ra = p.reset_after;
  const int64_t S = (lstm || gru) ? 4 * U : U;
  float* A = ws;
  float* P = ws + NT * S;
  float* CP = P + NT * U;
  float* TC = CP + NT * U;
  float* XW = scratch;
  float* HU = scratch + NT * GU;
  float* Rp = HU + N * GU;
  float* Rp2 = Rp + rnn_packed_floats(U, 2 * U);  // GRU v1: R_h
  const float* b_in = b;                                  // input-side bias (or the only bias)
  const float* b_rec = (gru && ra && b) ? b + GU : nullptr;  // GRU reset_after recurrent bias

  // x_t W per step with W packed once (in the XW area) when the batch is
  // large enough for the packed kernel to reuse each panel.
  const int64_t wp_floats = rnn_packed_floats(I, GU);
  const bool fuse_x = N >= 16 && wp_floats + N * GU <= NT * GU;
  float* Wp = XW;
  float* XWs = XW + wp_floats;  // GRU: per-step x_t W (N, GU)
  if (fuse_x)
    pack_b(W, GU, false, I, GU, Wp);
  else
    gemm(false, false, NT, GU, I, x, I, W, GU, 0.f, XW, GU);
  if (gru && !ra) {
    pack_b(R, GU, false, U, 2 * U, Rp);
    pack_b(R + 2 * U, GU, false, U, U, Rp2);
  } else {
    pack_b(R, GU, false, U, GU, Rp);
  }

  // Zero stand-ins so the fused row kernels never test for absent inputs.
  float* zb = Rp + ((gru && !ra) ? rnn_packed_floats(U, 2 * U) + rnn_packed_floats(U, U)
                                 : rnn_packed_floats(U, GU));  // 2*GU zeros: absent bias
  std::memset(zb, 0, sizeof(float) * 2 * GU);
  const float* bi = b_in ? b_in : zb;
  const float* br = b_rec ? b_rec : zb;
  if (lstm && !c0) std::memset(cT, 0, sizeof(float) * N * U);

  // The whole recurrence for batch rows [n0, n1): rows never interact, so
  // threads can own disjoint row ranges for all T steps (no barrier per step).
  // inner: parallelize inside each step instead (small batches).
  auto run_rows = [&](int64_t n0, int64_t n1, bool inner) {
    const int64_t M = n1 - n0;
    if (M <= 0) return;
    const float* hprev = h0;  // null = zeros
    int64_t ldh = U;
    float* HUb = HU + n0 * GU;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = p.go_backwards ? T - 1 - s : s;
      const bool hz = hprev == nullptr;
      const float* cprev = (s == 0 && c0) ? c0 : cT;  // LSTM running cell state
      // Recurrent GEMM (for GRU without reset_after only the z, r columns here).
      const int64_t ncols = (gru && !ra) ? 2 * U : GU;
      const float* xt = x + (n0 * T + t) * I;
      if (fuse_x && !gru) {
        // HU = x_t W + h_prev R in one pass over HU (one kernel, two products)
        PCN_ISA_CALL(rnn_gemm_packed2, M, GU, I, xt, T * I, Wp, hz ? 0 : U, hz ? nullptr : hprev + n0 * ldh, ldh,
                     Rp, false, HUb, GU);
      } else {
        if (fuse_x) gemm_packed(M, GU, I, xt, T * I, Wp, false, XWs + n0 * GU, GU);
        if (hz)
          std::memset(HUb, 0, sizeof(float) * M * GU);
        else
          gemm_packed(M, ncols, U, hprev + n0 * ldh, ldh, Rp, false, HUb, GU);
      }

#pragma omp parallel for schedule(static) if (inner)
      for (int64_t n = n0; n < n1; ++n) {
        const int64_t row = n * T + t;
        const float* xw = !fuse_x ? XW + row * GU : gru ? XWs + n * GU : zb;
        const float* hu = HU + n * GU;
        float* a = A + row * S;
        float* pp = P + row * U;  // h_prev, saved; also the row kernels' h_prev
        float* ho = out + (n * T + s) * U;
        if (hz)
          std::memset(pp, 0, sizeof(float) * U);
        else
          std::memcpy(pp, hprev + n * ldh, sizeof(float) * U);
        if (lstm)
          PCN_ISA_CALL(rnn_lstm_row, U, xw, hu, bi, cprev + n * U, a, CP + row * U, TC + row * U, cT + n * U, ho);
        else if (gru && ra)
          PCN_ISA_CALL(rnn_gru_row, U, xw, hu, bi, br, pp, a, ho);
        else if (gru)
          PCN_ISA_CALL(rnn_gru_v1_row1, U, xw, hu, bi, pp, a);
        else
          PCN_ISA_CALL(rnn_simple_row, U, relu, xw, hu, bi, a, ho);
      }
      if (gru && !ra) {
        // HU_h = (r * h_prev) (M,U) @ R[:, 2U:3U]; rows of r*h_prev are at stride T*S in A.
        gemm_packed(M, U, U, A + (n0 * T + t) * S + 3 * U, T * S, Rp2, false, HUb + 2 * U, GU);
#pragma omp parallel for schedule(static) if (inner)
        for (int64_t n = n0; n < n1; ++n) {
          const int64_t row = n * T + t;
          PCN_ISA_CALL(rnn_gru_v1_row2, U, fuse_x ? XWs + n * GU : XW + row * GU, HU + n * GU, bi, P + row * U, A + row * S,
                       out + (n * T + s) * U);
        }
      }
      hprev = out + s * U;
      ldh = T * U;
    }
  };
  for_row_ranges(N, U * GU * T, N * GU >= kParWork, run_rows);
  for (int64_t n = 0; n < N; ++n) std::memcpy(hT + n * U, out + (n * T + T - 1) * U, sizeof(float) * U);
}

// dout (N,T,U) processing order or null; dhT/dcT (N,U) or null; ws from forward.
// Overwrites dx (N,T,I), dW (I,GU), dR (U,GU), db (GU or 2*GU; null = no bias),
// dh0/dc0 (N,U; null = not wanted). scratch: dZ (N*T,GU) [, dZrec (N*T,GU) for
// GRU reset_after], then dHc, dHn, dC, Gm (N,U) each, then R^T packed
// (rnn_packed_floats(GU,U); GRU v1: R_h^T (U,U) then R_zr^T (2U,U)).
// dW's buffer holds W^T packed during the time loop when dx runs per step.
void rnn_backward(const RnnParams& p, const float* dout, const float* dhT, const float* dcT, const float* x,
                  const float* W, const float* R, const float* ws, float* dx, float* dW, float* dR, float* db,
                  float* dh0, float* dc0, float* scratch) {
  const int64_t N = p.N, T = p.T, I = p.I, U = p.U, GU = p.G * p.U, NT = N * T;
  const bool lstm = p.cell == RnnCell::Lstm, gru = p.cell == RnnCell::Gru, relu = p.cell == RnnCell::SimpleRelu;
  const bool ra = p.reset_after;
  const int64_t S = (lstm || gru) ? 4 * U : U;
  const float* A = ws;
  const float* P = ws + NT * S;
  const float* CP = P + NT * U;
  const float* TC = CP + NT * U;
  float* dZ = scratch;
  float* dZr = (gru && ra) ? dZ + NT * GU : dZ;  // what multiplies R (recurrent side)
  float* dHc = dZ + NT * GU * ((gru && ra) ? 2 : 1);
  float* dHn = dHc + N * U;
  float* dC = dHn + N * U;
  float* Gm = dC + N * U;
  float* RpT = Gm + N * U;
  float* RpT2 = RpT + rnn_packed_floats(U, U);  // GRU v1: R_zr^T
  if (gru && !ra) {
    pack_b(R + 2 * U, GU, true, U, U, RpT);
    pack_b(R, GU, true, 2 * U, U, RpT2);
  } else {
    pack_b(R, GU, true, GU, U, RpT);
  }
  // dx_t = dZ_t W^T per step through the packed kernel, W^T packed into dW's
  // buffer (exactly I*GU floats when I % 32 == 0; dW is computed after the
  // loop) -- faster than one transposed-B GEMM over all steps.
  const bool dx_steps = N >= 16 && rnn_packed_floats(GU, I) <= I * GU;
  float* WpT = dW;
  if (dx_steps) pack_b(W, GU, true, GU, I, WpT);

  for (int64_t i = 0; i < N * U; ++i) {
    dHc[i] = dhT ? dhT[i] : 0.f;
    dC[i] = dcT ? dcT[i] : 0.f;
  }

  // Backward through time for batch rows [n0, n1) (rows are independent; see
  // for_row_ranges). dHc0/dHn0 ping-pong: dl/dh of the current step's output
  // (excluding d_outputs) and of its input state.
  float* const dHc0 = dHc;
  float* const dHn0 = dHn;
  auto run_rows = [&](int64_t n0, int64_t n1, bool inner) {
    const int64_t M = n1 - n0;
    if (M <= 0) return;
    float* dHc = dHc0;
    float* dHn = dHn0;
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = p.go_backwards ? T - 1 - s : s;
#pragma omp parallel for schedule(static) if (inner)
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t row = n * T + t;
      const float* a = A + row * S;
      const float* hp = P + row * U;
      const float* dcarry = dHc + n * U;
      const float* dov = dout ? dout + (n * T + s) * U : nullptr;
      float* dz = dZ + row * GU;
      if (!lstm && !gru)
        PCN_ISA_CALL(rnn_simple_bwd_row, U, relu, dcarry, dov, a, dz);
      else if (lstm)
        PCN_ISA_CALL(rnn_lstm_bwd_row, U, dcarry, dov, a, CP + row * U, TC + row * U, dC + n * U, dz);
      else if (ra)
        PCN_ISA_CALL(rnn_gru_bwd_row, U, dcarry, dov, a, hp, dz, dZr + row * GU, dHn + n * U);
      else  // GRU reset_after=False, phase 1: dz, dh (candidate), direct dh_prev
        PCN_ISA_CALL(rnn_gru_v1_bwd_row1, U, dcarry, dov, a, hp, dz, dHn + n * U);
    }
    if (gru && !ra) {
      // Gm = dZ_h (N,U) @ R_h^T: gradient w.r.t. (r * h_prev).
      gemm_packed(M, U, U, dZ + (n0 * T + t) * GU + 2 * U, T * GU, RpT, false, Gm + n0 * U, U);
#pragma omp parallel for schedule(static) if (inner)
      for (int64_t n = n0; n < n1; ++n) {
        const int64_t row = n * T + t;
        PCN_ISA_CALL(rnn_gru_v1_bwd_row2, U, A + row * S, P + row * U, Gm + n * U, dZ + row * GU, dHn + n * U);
      }
      gemm_packed(M, U, 2 * U, dZ + (n0 * T + t) * GU, T * GU, RpT2, true, dHn + n0 * U, U);
    } else {
      gemm_packed(M, U, GU, dZr + (n0 * T + t) * GU, T * GU, RpT, gru, dHn + n0 * U, U);
    }
    if (dx_steps) gemm_packed(M, I, GU, dZ + (n0 * T + t) * GU, T * GU, WpT, false, dx + (n0 * T + t) * I, T * I);
    std::swap(dHc, dHn);
  }
  };
  for_row_ranges(N, U * GU * T, N * GU >= kParWork, run_rows);
  if (dh0) std::memcpy(dh0, T % 2 == 0 ? dHc0 : dHn0, sizeof(float) * N * U);
  if (dc0) std::memcpy(dc0, dC, sizeof(float) * N * U);

  if (!dx_steps) gemm(false, true, NT, I, GU, dZ, GU, W, GU, 0.f, dx, I);   // dx = dZ W^T
  gemm(true, false, I, GU, NT, x, I, dZ, GU, 0.f, dW, GU);   // dW = X^T dZ
  if (gru && !ra) {
    gemm(true, false, U, 2 * U, NT, P, U, dZ, GU, 0.f, dR, GU);
    gemm(true, false, U, U, NT, A + 3 * U, S, dZ + 2 * U, GU, 0.f, dR + 2 * U, GU);
  } else {
    gemm(true, false, U, GU, NT, P, U, dZr, GU, 0.f, dR, GU);  // dR = P^T dZrec
  }
  if (db) {
    column_sums(dZ, NT, GU, GU, db);
    if (gru && ra) column_sums(dZr, NT, GU, GU, db + GU);
  }
}

}  // namespace cpu
}  // namespace pcn
