// rnn.cu — CUDA twin of csrc/cpu/rnn.cpp: SimpleRNN / LSTM / GRU over a whole
// sequence, forward and backward through time, Keras 3 semantics. Shapes, the
// workspace layout and the scratch sizes are those of ops/rnn.h (the front
// sizes everything; this file uses the same workspace layout as the CPU and a
// prefix of the scratch the front allocates).
//
// Forward:  XW = X (N*T, I) @ W (I, GU)                one GEMM for all steps
//           per processing step s (t = s, or T-1-s with go_backwards):
//             HU = h_prev (N,U) @ R (U, GU)             one recurrent GEMM
//             one fused pointwise kernel over (n, u)    (GRU v1: two + a GEMM)
// Backward: per step (reverse order) one pointwise kernel writes dZ[n,t,:] and
//           one GEMM carries dh_prev = dZ_t @ R^T (+ direct terms); then
//           dx = dZ W^T, dW = X^T dZ, dR = P^T dZ, db = column sums of dZ.
// Gate math uses the CPU's exp/tanh approximations (csrc/cpu/isa/rnn.cpp) so
// both devices compute the same function to rounding.
//
// The matrix products use sgemm_tiled below, a plain shared-memory 32x32-tile
// SGEMM (correct, not fast): the project's CUDA GEMM is being written on
// another branch and should replace it.
#include <cuda_runtime.h>

#include "../csrc/math_hd.h"
#include "../csrc/ops/rnn.h"
#include "check.cuh"
#include "register.cuh"
#include "scratch.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

constexpr int kThreads = 256;

// ---------------------------------------------------------------- SGEMM
// C (M,Nc) [ldc] = op(A) op(B) (+ C when acc). op(A) (M,K): A (M,K) [lda], or
// A (K,M) [lda] when TA. op(B) (K,Nc): B (K,Nc) [ldb], or B (Nc,K) [ldb] when
// TB. Block 32x8 threads computes a 32x32 tile of C (4 rows per thread);
// grid.y strides over row tiles (no 65535 limit on M). K == 0 writes zeros.
constexpr int TS = 32, TY = 8;

template <bool TA, bool TB>
__global__ void sgemm_tiled(int64_t M, int64_t Nc, int64_t K, const float* __restrict__ A, int64_t lda,
                            const float* __restrict__ B, int64_t ldb, float* __restrict__ C, int64_t ldc, bool acc) {
  __shared__ float As[TS][TS + 1];  // As[i][k]
  __shared__ float Bs[TS][TS + 1];  // Bs[k][j]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j0 = blockIdx.x * int64_t(TS);
  const int64_t mtiles = (M + TS - 1) / TS;
  for (int64_t bm = blockIdx.y; bm < mtiles; bm += gridDim.y) {  // uniform across the block
    const int64_t i0 = bm * TS;
    float sum[TS / TY];
#pragma unroll
    for (int q = 0; q < TS / TY; ++q) sum[q] = 0.f;
    for (int64_t k0 = 0; k0 < K; k0 += TS) {
#pragma unroll
      for (int q = 0; q < TS / TY; ++q) {
        const int r = ty + TY * q;
        // A tile: lanes run along the contiguous axis of A.
        if (TA) {
          const int64_t gi = i0 + tx, gk = k0 + r;
          As[tx][r] = (gi < M && gk < K) ? A[gk * lda + gi] : 0.f;
        } else {
          const int64_t gi = i0 + r, gk = k0 + tx;
          As[r][tx] = (gi < M && gk < K) ? A[gi * lda + gk] : 0.f;
        }
        if (TB) {
          const int64_t gj = j0 + r, gk = k0 + tx;
          Bs[tx][r] = (gj < Nc && gk < K) ? B[gj * ldb + gk] : 0.f;
        } else {
          const int64_t gj = j0 + tx, gk = k0 + r;
          Bs[r][tx] = (gj < Nc && gk < K) ? B[gk * ldb + gj] : 0.f;
        }
      }
      __syncthreads();
#pragma unroll 8
      for (int kk = 0; kk < TS; ++kk) {
        const float b = Bs[kk][tx];
#pragma unroll
        for (int q = 0; q < TS / TY; ++q) sum[q] += As[ty + TY * q][kk] * b;
      }
      __syncthreads();
    }
    const int64_t gj = j0 + tx;
#pragma unroll
    for (int q = 0; q < TS / TY; ++q) {
      const int64_t gi = i0 + ty + TY * q;
      if (gi < M && gj < Nc) {
        float* c = C + gi * ldc + gj;
        *c = acc ? *c + sum[q] : sum[q];
      }
    }
  }
}

void gemm(bool ta, bool tb, int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float* C, int64_t ldc, bool acc) {
  if (M <= 0 || Nc <= 0) return;
  const int64_t nt = (Nc + TS - 1) / TS, mt = (M + TS - 1) / TS;
  PCN_CHECK(nt < (int64_t(1) << 31), "rnn: GEMM with " << Nc << " columns is too wide for the CUDA grid");
  const dim3 grid(unsigned(nt), unsigned(mt < 65535 ? mt : 65535)), block(TS, TY);
  cudaStream_t st = cuda::stream();
  if (!ta && !tb) sgemm_tiled<false, false><<<grid, block, 0, st>>>(M, Nc, K, A, lda, B, ldb, C, ldc, acc);
  else if (!ta && tb) sgemm_tiled<false, true><<<grid, block, 0, st>>>(M, Nc, K, A, lda, B, ldb, C, ldc, acc);
  else if (ta && !tb) sgemm_tiled<true, false><<<grid, block, 0, st>>>(M, Nc, K, A, lda, B, ldb, C, ldc, acc);
  else sgemm_tiled<true, true><<<grid, block, 0, st>>>(M, Nc, K, A, lda, B, ldb, C, ldc, acc);
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- gate math
// vexp, vsigmoid, vtanh: the same text as the CPU kernels (csrc/math_gate.h).
#include "../csrc/math_gate.h"

// ---------------------------------------------------------------- forward pointwise
// One thread per (n, u) of step s (time t). Common arguments: XW (N*T,GU),
// HU (N,GU), bias stand-ins bi/br (GU, zeros when absent), h_prev rows at
// hprev + n*ldh (null = zeros), workspace blocks A (N*T,S), P (N*T,U), output
// out (N,T,U). Each thread writes P[row,u] first (the saved h_prev).
struct StepArgs {
  int64_t N, T, U, GU, S, t, s;
  const float* XW;
  const float* HU;
  const float* bi;
  const float* br;
  const float* hprev;
  int64_t ldh;
  float* A;
  float* P;
  float* out;
};

__global__ void fwd_simple_kernel(StepArgs g, bool relu) {
  const int64_t total = g.N * g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / g.U, u = i % g.U, row = n * g.T + g.t;
    g.P[row * g.U + u] = g.hprev ? g.hprev[n * g.ldh + u] : 0.f;
    const float v = g.XW[row * g.GU + u] + g.bi[u] + g.HU[n * g.GU + u];
    const float h = relu ? (v > 0.f ? v : (v != v ? v : 0.f)) : vtanh(v);
    g.A[row * g.S + u] = h;
    g.out[(n * g.T + g.s) * g.U + u] = h;
  }
}

// LSTM: cprev (N,U) (c0 at the first step, else cT), CP/TC (N*T,U), cT (N,U)
// updated in place (each thread reads then writes its own element).
__global__ void fwd_lstm_kernel(StepArgs g, const float* cprev, float* __restrict__ CP, float* __restrict__ TC,
                                float* cT) {
  const int64_t total = g.N * g.U, U = g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / U, u = i % U, row = n * g.T + g.t;
    g.P[row * U + u] = g.hprev ? g.hprev[n * g.ldh + u] : 0.f;
    const float* xw = g.XW + row * g.GU;
    const float* hu = g.HU + n * g.GU;
    const float* b = g.bi;
    const float ig = vsigmoid(xw[u] + b[u] + hu[u]);
    const float fg = vsigmoid(xw[U + u] + b[U + u] + hu[U + u]);
    const float gg = vtanh(xw[2 * U + u] + b[2 * U + u] + hu[2 * U + u]);
    const float og = vsigmoid(xw[3 * U + u] + b[3 * U + u] + hu[3 * U + u]);
    const float c_old = cprev[n * U + u];
    const float c = fg * c_old + ig * gg;
    const float tcv = vtanh(c);
    float* a = g.A + row * g.S;
    a[u] = ig; a[U + u] = fg; a[2 * U + u] = gg; a[3 * U + u] = og;
    CP[row * U + u] = c_old;
    TC[row * U + u] = tcv;
    cT[n * U + u] = c;
    g.out[(n * g.T + g.s) * U + u] = og * tcv;
  }
}

// GRU reset_after: a = [z, r, hh, hu_h + brec_h]; ho = z*hp + (1-z)*hh.
__global__ void fwd_gru_kernel(StepArgs g) {
  const int64_t total = g.N * g.U, U = g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / U, u = i % U, row = n * g.T + g.t;
    const float hp = g.hprev ? g.hprev[n * g.ldh + u] : 0.f;
    g.P[row * U + u] = hp;
    const float* xw = g.XW + row * g.GU;
    const float* hu = g.HU + n * g.GU;
    const float *bin = g.bi, *brec = g.br;
    const float zg = vsigmoid(xw[u] + bin[u] + hu[u] + brec[u]);
    const float rg = vsigmoid(xw[U + u] + bin[U + u] + hu[U + u] + brec[U + u]);
    const float e = hu[2 * U + u] + brec[2 * U + u];
    const float hh = vtanh(xw[2 * U + u] + bin[2 * U + u] + rg * e);
    float* a = g.A + row * g.S;
    a[u] = zg; a[U + u] = rg; a[2 * U + u] = hh; a[3 * U + u] = e;
    g.out[(n * g.T + g.s) * U + u] = zg * hp + (1.f - zg) * hh;
  }
}

// GRU v1 phase 1: a[z], a[r], a[3U+u] = r*hp (HU holds only the z, r columns).
__global__ void fwd_gru_v1_1_kernel(StepArgs g) {
  const int64_t total = g.N * g.U, U = g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / U, u = i % U, row = n * g.T + g.t;
    const float hp = g.hprev ? g.hprev[n * g.ldh + u] : 0.f;
    g.P[row * U + u] = hp;
    const float* xw = g.XW + row * g.GU;
    const float* hu = g.HU + n * g.GU;
    const float* b = g.bi;
    const float zg = vsigmoid(xw[u] + b[u] + hu[u]);
    const float rg = vsigmoid(xw[U + u] + b[U + u] + hu[U + u]);
    float* a = g.A + row * g.S;
    a[u] = zg; a[U + u] = rg; a[3 * U + u] = rg * hp;
  }
}

// GRU v1 phase 2 (HU[:, 2U:3U] = (r*hp) R_h): a[hh], ho.
__global__ void fwd_gru_v1_2_kernel(StepArgs g) {
  const int64_t total = g.N * g.U, U = g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / U, u = i % U, row = n * g.T + g.t;
    const float* xw = g.XW + row * g.GU;
    const float* hu = g.HU + n * g.GU;
    float* a = g.A + row * g.S;
    const float hh = vtanh(xw[2 * U + u] + g.bi[2 * U + u] + hu[2 * U + u]);
    const float zg = a[u];
    a[2 * U + u] = hh;
    g.out[(n * g.T + g.s) * U + u] = zg * g.P[row * U + u] + (1.f - zg) * hh;
  }
}

// ---------------------------------------------------------------- backward pointwise
// One thread per (n, u) of step s (time t): dh = dHc[n,u] + dout[n,s,u];
// writes dZ[row, :] (and dZr for GRU reset_after) and the direct part of
// dh_prev into dHn (GRU; LSTM/simple get it from the GEMM alone).
struct BwdArgs {
  int64_t N, T, U, GU, S, t, s;
  const float* A;
  const float* P;
  const float* CP;
  const float* TC;
  const float* dout;  // (N,T,U) or null
  const float* dHc;
  float* dHn;
  float* dC;
  float* dZ;
  float* dZr;
  const float* Gm;
};

template <int kCell>  // 0 simple tanh, 1 simple relu, 2 lstm, 3 gru reset_after, 4 gru v1 phase 1, 5 gru v1 phase 2
__global__ void bwd_step_kernel(BwdArgs g) {
  const int64_t total = g.N * g.U, U = g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / U, u = i % U, row = n * g.T + g.t;
    const float* a = g.A + row * g.S;
    float* dz = g.dZ + row * g.GU;
    if (kCell == 5) {
      const float rg = a[U + u];
      const float gm = g.Gm[n * U + u];
      dz[U + u] = gm * g.P[row * U + u] * rg * (1.f - rg);
      g.dHn[n * U + u] += gm * rg;
      continue;
    }
    const float dh = g.dHc[n * U + u] + (g.dout ? g.dout[(n * g.T + g.s) * U + u] : 0.f);
    if (kCell == 0 || kCell == 1) {
      const float h = a[u];
      dz[u] = kCell == 1 ? (h > 0.f ? dh : 0.f) : dh * (1.f - h * h);
    } else if (kCell == 2) {
      const float ig = a[u], fg = a[U + u], gg = a[2 * U + u], og = a[3 * U + u], tcv = g.TC[row * U + u];
      const float dc = g.dC[n * U + u] + dh * og * (1.f - tcv * tcv);
      dz[u] = dc * gg * ig * (1.f - ig);
      dz[U + u] = dc * g.CP[row * U + u] * fg * (1.f - fg);
      dz[2 * U + u] = dc * ig * (1.f - gg * gg);
      dz[3 * U + u] = dh * tcv * og * (1.f - og);
      g.dC[n * U + u] = dc * fg;
    } else if (kCell == 3) {
      const float hp = g.P[row * U + u];
      const float zg = a[u], rg = a[U + u], hh = a[2 * U + u], e = a[3 * U + u];
      const float daz = dh * (hp - hh) * zg * (1.f - zg);
      const float dah = dh * (1.f - zg) * (1.f - hh * hh);
      const float dar = dah * e * rg * (1.f - rg);
      float* dzr = g.dZr + row * g.GU;
      dz[u] = daz; dz[U + u] = dar; dz[2 * U + u] = dah;
      dzr[u] = daz; dzr[U + u] = dar; dzr[2 * U + u] = dah * rg;
      g.dHn[n * U + u] = dh * zg;
    } else {  // 4: GRU v1 phase 1
      const float hp = g.P[row * U + u];
      const float zg = a[u], hh = a[2 * U + u];
      dz[u] = dh * (hp - hh) * zg * (1.f - zg);
      dz[2 * U + u] = dh * (1.f - zg) * (1.f - hh * hh);
      g.dHn[n * U + u] = dh * zg;
    }
  }
}

// out[j] = sum_r M[r*ld + j] (r < rows, sequential in r as the CPU), j < cols.
__global__ void column_sums_kernel(const float* __restrict__ M, int64_t rows, int64_t cols, int64_t ld,
                                   float* __restrict__ out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    for (int64_t r = 0; r < rows; ++r) acc += M[r * ld + j];
    out[j] = acc;
  }
}

template <class Kernel, class Args>
void launch_rows(Kernel k, int64_t total, const Args& args) {
  if (total <= 0) return;
  k<<<cuda::grid_for(total, kThreads), kThreads, 0, cuda::stream()>>>(args);
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- forward
// Arguments as RnnFwdFn (ops/rnn.h). scratch prefix used: XW (N*T,GU),
// HU (N,GU), zb (2*GU zeros) — within rnn_fwd_scratch_floats(p).
void rnn_forward_cuda(const RnnParams& p, const float* x, const float* W, const float* R, const float* b,
                      const float* h0, const float* c0, float* out, float* hT, float* cT, float* ws, float* scratch) {
  const int64_t N = p.N, T = p.T, I = p.I, U = p.U, GU = p.G * p.U, NT = N * T;
  if (N <= 0) return;
  const bool lstm = p.cell == RnnCell::Lstm, gru = p.cell == RnnCell::Gru, relu = p.cell == RnnCell::SimpleRelu;
  const bool ra = p.reset_after;
  const int64_t S = (lstm || gru) ? 4 * U : U;
  cudaStream_t st = cuda::stream();
  float* A = ws;
  float* P = ws + NT * S;
  float* CP = P + NT * U;
  float* TC = CP + NT * U;
  float* XW = scratch;
  float* HU = XW + NT * GU;
  float* zb = HU + N * GU;
  PCN_CUDA_CHECK(cudaMemsetAsync(zb, 0, sizeof(float) * size_t(2 * GU), st));
  const float* bi = b ? b : zb;
  const float* br = (gru && ra && b) ? b + GU : zb;
  if (lstm && !c0) PCN_CUDA_CHECK(cudaMemsetAsync(cT, 0, sizeof(float) * size_t(N * U), st));

  gemm(false, false, NT, GU, I, x, I, W, GU, XW, GU, false);

  StepArgs g{N, T, U, GU, S, 0, 0, XW, HU, bi, br, h0, U, A, P, out};
  for (int64_t s = 0; s < T; ++s) {
    g.s = s;
    g.t = p.go_backwards ? T - 1 - s : s;
    const int64_t ncols = (gru && !ra) ? 2 * U : GU;
    if (g.hprev)
      gemm(false, false, N, ncols, U, g.hprev, g.ldh, R, GU, HU, GU, false);
    else
      PCN_CUDA_CHECK(cudaMemsetAsync(HU, 0, sizeof(float) * size_t(N * GU), st));
    if (lstm) {
      const float* cprev = (s == 0 && c0) ? c0 : cT;
      if (N * U > 0) {
        fwd_lstm_kernel<<<cuda::grid_for(N * U, kThreads), kThreads, 0, st>>>(g, cprev, CP, TC, cT);
        PCN_CUDA_LAUNCH_CHECK();
      }
    } else if (gru && ra) {
      launch_rows(fwd_gru_kernel, N * U, g);
    } else if (gru) {
      launch_rows(fwd_gru_v1_1_kernel, N * U, g);
      // HU_h = (r * h_prev) (N,U) @ R[:, 2U:3U]; rows of r*h_prev at stride T*S in A.
      gemm(false, false, N, U, U, A + g.t * S + 3 * U, T * S, R + 2 * U, GU, HU + 2 * U, GU, false);
      launch_rows(fwd_gru_v1_2_kernel, N * U, g);
    } else {
      if (N * U > 0) {
        fwd_simple_kernel<<<cuda::grid_for(N * U, kThreads), kThreads, 0, st>>>(g, relu);
        PCN_CUDA_LAUNCH_CHECK();
      }
    }
    g.hprev = out + s * U;
    g.ldh = T * U;
  }
  // hT = out[:, T-1, :]
  PCN_CUDA_CHECK(cudaMemcpy2DAsync(hT, sizeof(float) * size_t(U), out + (T - 1) * U, sizeof(float) * size_t(T * U),
                                   sizeof(float) * size_t(U), size_t(N), cudaMemcpyDeviceToDevice, st));
}

// ---------------------------------------------------------------- backward
// Arguments as RnnBwdFn (ops/rnn.h). scratch prefix used: dZ (N*T,GU)
// [, dZr (N*T,GU) for GRU reset_after], then dHc, dHn, dC, Gm (N,U) each.
void rnn_backward_cuda(const RnnParams& p, const float* dout, const float* dhT, const float* dcT, const float* x,
                       const float* W, const float* R, const float* ws, float* dx, float* dW, float* dR, float* db,
                       float* dh0, float* dc0, float* scratch) {
  const int64_t N = p.N, T = p.T, I = p.I, U = p.U, GU = p.G * p.U, NT = N * T;
  const bool lstm = p.cell == RnnCell::Lstm, gru = p.cell == RnnCell::Gru, relu = p.cell == RnnCell::SimpleRelu;
  const bool ra = p.reset_after;
  const int64_t S = (lstm || gru) ? 4 * U : U;
  cudaStream_t st = cuda::stream();
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
  const size_t nu_bytes = sizeof(float) * size_t(N * U);

  if (N > 0) {
    if (dhT) PCN_CUDA_CHECK(cudaMemcpyAsync(dHc, dhT, nu_bytes, cudaMemcpyDeviceToDevice, st));
    else PCN_CUDA_CHECK(cudaMemsetAsync(dHc, 0, nu_bytes, st));
    if (dcT) PCN_CUDA_CHECK(cudaMemcpyAsync(dC, dcT, nu_bytes, cudaMemcpyDeviceToDevice, st));
    else PCN_CUDA_CHECK(cudaMemsetAsync(dC, 0, nu_bytes, st));

    BwdArgs g{N, T, U, GU, S, 0, 0, A, P, CP, TC, dout, dHc, dHn, dC, dZ, dZr, Gm};
    for (int64_t s = T - 1; s >= 0; --s) {
      const int64_t t = p.go_backwards ? T - 1 - s : s;
      g.s = s;
      g.t = t;
      g.dHc = dHc;
      g.dHn = dHn;
      if (lstm) launch_rows(bwd_step_kernel<2>, N * U, g);
      else if (gru && ra) launch_rows(bwd_step_kernel<3>, N * U, g);
      else if (gru) launch_rows(bwd_step_kernel<4>, N * U, g);
      else if (relu) launch_rows(bwd_step_kernel<1>, N * U, g);
      else launch_rows(bwd_step_kernel<0>, N * U, g);
      if (gru && !ra) {
        // Gm = dZ_h (N,U) @ R_h^T: gradient w.r.t. (r * h_prev).
        gemm(false, true, N, U, U, dZ + t * GU + 2 * U, T * GU, R + 2 * U, GU, Gm, U, false);
        launch_rows(bwd_step_kernel<5>, N * U, g);
        gemm(false, true, N, U, 2 * U, dZ + t * GU, T * GU, R, GU, dHn, U, true);
      } else {
        gemm(false, true, N, U, GU, dZr + t * GU, T * GU, R, GU, dHn, U, gru);
      }
      float* tmp = dHc;
      dHc = dHn;
      dHn = tmp;
    }
    if (dh0) PCN_CUDA_CHECK(cudaMemcpyAsync(dh0, dHc, nu_bytes, cudaMemcpyDeviceToDevice, st));
    if (dc0) PCN_CUDA_CHECK(cudaMemcpyAsync(dc0, dC, nu_bytes, cudaMemcpyDeviceToDevice, st));
  }

  gemm(false, true, NT, I, GU, dZ, GU, W, GU, dx, I, false);  // dx = dZ W^T
  gemm(true, false, I, GU, NT, x, I, dZ, GU, dW, GU, false);  // dW = X^T dZ  (K = 0 -> zeros)
  if (gru && !ra) {
    gemm(true, false, U, 2 * U, NT, P, U, dZ, GU, dR, GU, false);
    gemm(true, false, U, U, NT, A + 3 * U, S, dZ + 2 * U, GU, dR + 2 * U, GU, false);
  } else {
    gemm(true, false, U, GU, NT, P, U, dZr, GU, dR, GU, false);  // dR = P^T dZrec
  }
  if (db) {
    column_sums_kernel<<<cuda::grid_for(GU, kThreads), kThreads, 0, st>>>(dZ, NT, GU, GU, db);
    PCN_CUDA_LAUNCH_CHECK();
    if (gru && ra) {
      column_sums_kernel<<<cuda::grid_for(GU, kThreads), kThreads, 0, st>>>(dZr, NT, GU, GU, db + GU);
      PCN_CUDA_LAUNCH_CHECK();
    }
  }
}

}  // namespace

void register_rnn_cuda() {
  rnn_forward_table.cuda = rnn_forward_cuda;
  rnn_backward_table.cuda = rnn_backward_cuda;
}

}  // namespace pcn
