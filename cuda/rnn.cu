// rnn.cu — CUDA twin of csrc/cpu/rnn.cpp: SimpleRNN / LSTM / GRU over a whole
// sequence, forward and backward through time, Keras 3 semantics. Shapes, the
// workspace layout and the scratch sizes are those of ops/rnn.h (the front
// sizes everything; this file uses the same workspace layout as the CPU and a
// prefix of the scratch the front allocates).
//
// Forward:  XW = X (N*T, I) @ W (I, GU)                one big GEMM for all steps
//           per processing step s (t = s, or T-1-s with go_backwards):
//             HU = h_prev (N,U) @ R (U, GU)             split-K recurrent product
//             one fused pointwise kernel over (n, u)    (sums the K splits, gates;
//                                                        GRU v1: two + a product)
// Backward: per step (reverse order) one pointwise kernel writes dZ[n,t,:] and
//           one split-K product carries dh_prev = dZ_t @ R^T (+ direct terms,
//           summed by the next step's pointwise kernel); then the big GEMMs
//           dx = dZ W^T, dW = X^T dZ, dR = P^T dZ, and db = column sums of dZ.
// Gate math uses the CPU's exp/tanh approximations (csrc/cpu/isa/rnn.cpp) so
// both devices compute the same function to rounding.
//
// Matrix products:
//  - the big ones (XW, dx, dW, dR) go through the project SGEMM
//    (gemm_table.cuda, cuda/gemm.cu), so the matmul precision
//    (set_matmul_precision: "highest" fp32, "high" TF32, "medium" BF16 tensor
//    cores) applies to them exactly as it does to matmul;
//  - the per-step recurrent products (h_prev R, dZ_t R^T, GRU v1's extra ones)
//    use rec_gemm_kernel below: fp32 always, 64x64 tiles split along K into
//    slabs that the step's pointwise kernel sums in a fixed order (see
//    "recurrent products" for the tile/split model and predicted times).
// Results are deterministic run to run (no atomics; the split plan depends only
// on the shapes and the SM count). NOT RUN ON A GPU YET: checked on the host by
// the emulation (cuda/emu/run.sh) and compiled by nvcc for sm_90 only.
#include <cuda_runtime.h>

#include <cstdint>

#include "../csrc/math_hd.h"
#include "../csrc/ops/gemm.h"
#include "../csrc/ops/rnn.h"
#include "check.cuh"
#include "register.cuh"
#include "scratch.cuh"
#include "stream.cuh"

namespace pcn {
namespace {

constexpr int kThreads = 256;

// ---------------------------------------------------------------- big products
// C (M,Nc) [ldc] = op(A) op(B) through the project SGEMM (gemm_table.cuda,
// cuda/gemm.cu), on the current stream. C is write-only (beta = 0); K == 0
// writes zeros. The matmul precision (set_matmul_precision) applies here as it
// does to matmul.
void big_gemm(bool ta, bool tb, int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc) {
  if (M <= 0 || Nc <= 0) return;
  GemmParams p;
  p.transA = ta;
  p.transB = tb;
  p.M = M;
  p.N = Nc;
  p.K = K;
  p.alpha = 1.f;
  p.beta = 0.f;
  p.lda = lda;
  p.ldb = ldb;
  p.ldc = ldc;
  GemmFn f = gemm_table.cuda;
#ifndef __CUDACC__
  // Host emulation (cuda/emu): the gemm family is not emulated and every
  // "device" pointer is a host pointer, so its CPU kernel stands in.
  if (!f) f = gemm_table.cpu;
#endif
  if (!f) PCN_THROW(RuntimeError, "rnn: no CUDA GEMM registered (gemm_table.cuda)");
  f(p, A, B, C);
}

// ---------------------------------------------------------------- recurrent products
// The per-step products are small (M = batch rows, typically 64) and on the
// critical path of T sequential steps, so they are split along K to fill the
// GPU: block (x, y, z) computes the 64x64 tile (y, x) of
//   Part[z] (M, Nc) [ldp] = A[:, kz] (M, kz) @ op(B)[kz, :] (kz, Nc),
// kz = [z*ksplit, min(K, (z+1)*ksplit)), A (M,K) [lda] row-major, op(B) = B
// (K,Nc) [ldb], or B (Nc,K) [ldb] when TB. Slab z is at Part + z*slab. Every
// split is non-empty (plan_split), and each writes every element of its tile,
// so the consumer (the step's pointwise kernel) sums the nsplit slabs in a
// fixed order: deterministic, no atomics, no zeroing, no extra launch.
//
// Kernel: 256 threads (16x16), 4x4 outputs each (rows ty*4.., cols tx*4..),
// 16-deep k tiles in shared memory stored k-major (As[k][m], Bs[k][n]) so the
// inner loop reads one float4 of A (a broadcast: a warp spans 2 ty) and one of B
// (16 lanes, 256 contiguous bytes) per k for 16 FMAs; two shared buffers and a
// register prefetch of the next tile (one __syncthreads per k tile). Global
// loads: A and B^T rows as float4 when aligned (vecA / vecB), else scalar with
// bounds (zeros outside); B (K,Nc) with lanes along the contiguous n.
//
// Choice of nsplit (plan_split), a model in units of "one k of one tile"
// (64x64 FMAs; at 2 resident blocks per SM ~ 64 clk of an H100 SM's 128 fp32
// FMA/clk):  cost(S) = waves(S) * (ksplit(S) + 32) + S * tiles / 4, where
// ksplit(S) = round_up(ceil(K/S), 16), waves = ceil(tiles*S / (2*SMs)), 32 is
// the fixed cost of a block (prologue load latency, epilogue), and S*tiles/4
// the extra partial slab written by the GEMM and read by the pointwise kernel
// (M*Nc*8 bytes at ~4 TB/s of L2 per split). S in 1..32 (each split non-empty),
// the cheapest wins (ties: the smaller S).
// At N = 64 on an H100 (132 SMs) it picks:
//   LSTM fwd HU (64 x 4U, K = U):   U=256: S=8  ks=32, 128 blocks
//                                    U=512: S=8  ks=64, 256 blocks
//                                    U=1024: S=4 ks=256, 256 blocks
//   LSTM bwd dh (64 x U, K = 4U):   U=256: S=32 ks=32, 128 blocks
//                                    U=512: S=32 ks=64, 256 blocks
//                                    U=1024: S=16 ks=256, 256 blocks
//   GRU fwd (64 x 3U, K = U):        U=512: S=8 ks=64, 192 blocks
// Predicted times on an H100 SXM at N = 64, T = 100, I = U (model: a split-K
// launch costs 1 us + waves * ksplit * 64 clk / 0.8 at 1.755 GHz; a pointwise
// kernel 1 us + its bytes (partials, XW, A/P/CP/TC/out) at 3 TB/s of L2; 0.8 us
// gap per dependent launch; the big GEMMs at 35 TFLOP/s, ~the project SGEMM's
// 40 at 4096^3):
//            fwd step (GEMM + pointwise)  fwd total   bwd step   bwd total
//   U=256    2.5 + 2.0 + 1.6 =  6 us      0.70 ms     6 us       0.9 ms
//   U=512    3.9 + 3.0 + 1.6 =  8.5 us    1.2 ms      8.5 us     2.0 ms
//   U=1024  12.7 + 3.5 + 1.6 = 18 us      3.3 ms      18 us      6.4 ms
//   (GRU U=512 forward: 8 us a step, 1.1 ms.) At U=256 the host's launch rate
// (2 launches a step, ~2-3 us each through the runtime) may be the bound
// instead; a CUDA graph of the step loop would remove it.
// NOT MEASURED: no GPU has run this file yet (checked on the host by cuda/emu
// and compiled by nvcc for sm_90 only). ptxas (sm_90, -O3): rec_gemm_kernel
// 89 registers, 16 KB shared, no spills: 2 blocks of 256 threads fit an SM.
constexpr int RBM = 64, RBN = 64, RBK = 16, RThreads = 256;
constexpr int64_t kMaxSplit = 32;

struct Split {
  int64_t nsplit = 0, ksplit = 0;
};

int sm_count() {
  int dev = 0, v = 0;
  PCN_CUDA_CHECK(cudaGetDevice(&dev));
  PCN_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
  return v > 0 ? v : 1;
}

Split plan_split(int64_t M, int64_t Nc, int64_t K, int sms) {
  Split best;
  if (M <= 0 || Nc <= 0 || K <= 0) return best;
  const int64_t tiles = ((M + RBM - 1) / RBM) * ((Nc + RBN - 1) / RBN), slots = 2 * int64_t(sms);
  double best_cost = 0;
  for (int64_t S = 1; S <= kMaxSplit; ++S) {
    const int64_t ks = ((K + S - 1) / S + RBK - 1) / RBK * RBK;
    if ((K + ks - 1) / ks != S) continue;  // some split would be empty: that S is the same as a smaller one
    const int64_t waves = (tiles * S + slots - 1) / slots;
    const double cost = double(waves) * double(ks + 32) + double(S) * double(tiles) / 4.0;
    if (best.nsplit == 0 || cost < best_cost) {
      best_cost = cost;
      best.nsplit = S;
      best.ksplit = ks;
    }
  }
  return best;
}

// 4 consecutive elements row[k..k+3] (zeros at k+j >= kend).
__device__ __forceinline__ void load4(const float* __restrict__ row, int64_t k, int64_t kend, bool vec, float* v) {
  if (vec && k + 3 < kend) {
    const float4 q = *reinterpret_cast<const float4*>(row + k);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
  } else {
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = k + j < kend ? row[k + j] : 0.f;
  }
}

template <bool TB>
__global__ void __launch_bounds__(RThreads, 2)
    rec_gemm_kernel(int64_t M, int64_t Nc, int64_t K, int64_t ksplit, const float* __restrict__ A, int64_t lda,
                    const float* __restrict__ B, int64_t ldb, float* __restrict__ Part, int64_t ldp, int64_t slab,
                    bool vecA, bool vecB, bool vecP) {
  __shared__ __align__(16) float As[2][RBK][RBM];
  __shared__ __align__(16) float Bs[2][RBK][RBN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int lr = tid % 64, lq = tid / 64;  // loader: row (m of A, n of B^T / of B), quarter
  const int64_t n0 = blockIdx.x * int64_t(RBN);
  const int64_t kbeg = blockIdx.z * ksplit;
  const int64_t kend = K < kbeg + ksplit ? K : kbeg + ksplit;
  float* P = Part + blockIdx.z * slab;
  const int64_t mtiles = (M + RBM - 1) / RBM;
  for (int64_t bm = blockIdx.y; bm < mtiles; bm += gridDim.y) {  // uniform across the block
    const int64_t m0 = bm * RBM;
    float ra[4], rb[4];
    // Fetch the k tile at k0 into ra/rb (A[m0+lr, k0+lq*4+j]; B as described above).
    auto fetch = [&](int64_t k0) {
      const int64_t m = m0 + lr, kq = k0 + lq * 4;
      if (m < M) load4(A + m * lda, kq, kend, vecA, ra);
      else ra[0] = ra[1] = ra[2] = ra[3] = 0.f;
      const int64_t n = n0 + lr;
      if (TB) {
        if (n < Nc) load4(B + n * ldb, kq, kend, vecB, rb);
        else rb[0] = rb[1] = rb[2] = rb[3] = 0.f;
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int64_t k = k0 + lq + 4 * j;
          rb[j] = (n < Nc && k < kend) ? B[k * ldb + n] : 0.f;
        }
      }
    };
    auto stash = [&](int buf) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        As[buf][lq * 4 + j][lr] = ra[j];
        if (TB) Bs[buf][lq * 4 + j][lr] = rb[j];
        else Bs[buf][lq + 4 * j][lr] = rb[j];
      }
    };
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
    fetch(kbeg);
    stash(0);
    __syncthreads();
    int buf = 0;
    for (int64_t k0 = kbeg; k0 < kend; k0 += RBK) {
      const bool more = k0 + RBK < kend;
      if (more) fetch(k0 + RBK);
#pragma unroll
      for (int kk = 0; kk < RBK; ++kk) {
        const float4 a = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 4]);
        const float4 b = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 4]);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
      }
      if (more) stash(buf ^ 1);
      __syncthreads();
      buf ^= 1;
    }
    const int64_t n = n0 + tx * 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t m = m0 + ty * 4 + i;
      if (m >= M) continue;
      float* c = P + m * ldp + n;
      if (vecP && n + 3 < Nc) {
        *reinterpret_cast<float4*>(c) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (n + j < Nc) c[j] = acc[i][j];
      }
    }
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Launch the split-K recurrent product planned by sp (sp.nsplit >= 1).
void rec_gemm(cudaStream_t st, bool tb, const Split& sp, int64_t M, int64_t Nc, int64_t K, const float* A,
              int64_t lda, const float* B, int64_t ldb, float* Part, int64_t ldp, int64_t slab) {
  if (sp.nsplit <= 0) return;
  const int64_t nt = (Nc + RBN - 1) / RBN, mt = (M + RBM - 1) / RBM;
  PCN_CHECK(nt < (int64_t(1) << 31), "rnn: recurrent GEMM with " << Nc << " columns is too wide for the CUDA grid");
  const dim3 grid(unsigned(nt), unsigned(mt < 65535 ? mt : 65535), unsigned(sp.nsplit));
  const bool vecA = lda % 4 == 0 && aligned16(A);
  const bool vecB = tb && ldb % 4 == 0 && aligned16(B);
  const bool vecP = ldp % 4 == 0 && slab % 4 == 0 && aligned16(Part);
  if (tb)
    rec_gemm_kernel<true><<<grid, RThreads, 0, st>>>(M, Nc, K, sp.ksplit, A, lda, B, ldb, Part, ldp, slab, vecA, vecB,
                                                     vecP);
  else
    rec_gemm_kernel<false><<<grid, RThreads, 0, st>>>(M, Nc, K, sp.ksplit, A, lda, B, ldb, Part, ldp, slab, vecA,
                                                      vecB, vecP);
  PCN_CUDA_LAUNCH_CHECK();
}

// sum_{z < nsplit} part[z*slab + i], in increasing z (0 when nsplit == 0).
__device__ __forceinline__ float sum_parts(const float* __restrict__ part, int64_t nsplit, int64_t slab, int64_t i) {
  float acc = 0.f;
  for (int64_t z = 0; z < nsplit; ++z) acc += part[z * slab + i];
  return acc;
}

// ---------------------------------------------------------------- gate math
// vexp, vsigmoid, vtanh: the same text as the CPU kernels (csrc/math_gate.h).
#include "../csrc/math_gate.h"

// ---------------------------------------------------------------- forward pointwise
// One thread per (n, u) of step s (time t). Common arguments: XW (N*T,GU);
// HU: nsplit partial slabs (N,GU) of h_prev R at HU + z*slab, summed in
// increasing z by hu() (nsplit = 0: h_prev is zeros); bias stand-ins bi/br
// (GU, zeros when absent), h_prev rows at hprev + n*ldh (null = zeros),
// workspace blocks A (N*T,S), P (N*T,U), output out (N,T,U). Each thread
// writes P[row,u] first (the saved h_prev).
struct StepArgs {
  int64_t N, T, U, GU, S, t, s;
  const float* XW;
  const float* HU;
  int64_t nsplit, slab;
  const float* bi;
  const float* br;
  const float* hprev;
  int64_t ldh;
  float* A;
  float* P;
  float* out;
};
// (h_prev R)[n, col] from the partial slabs.
__device__ __forceinline__ float hu(const StepArgs& g, int64_t n, int64_t col) {
  return sum_parts(g.HU, g.nsplit, g.slab, n * g.GU + col);
}

__global__ void fwd_simple_kernel(StepArgs g, bool relu) {
  const int64_t total = g.N * g.U;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / g.U, u = i % g.U, row = n * g.T + g.t;
    g.P[row * g.U + u] = g.hprev ? g.hprev[n * g.ldh + u] : 0.f;
    const float v = g.XW[row * g.GU + u] + g.bi[u] + hu(g, n, u);
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
    const float* b = g.bi;
    const float ig = vsigmoid(xw[u] + b[u] + hu(g, n, u));
    const float fg = vsigmoid(xw[U + u] + b[U + u] + hu(g, n, U + u));
    const float gg = vtanh(xw[2 * U + u] + b[2 * U + u] + hu(g, n, 2 * U + u));
    const float og = vsigmoid(xw[3 * U + u] + b[3 * U + u] + hu(g, n, 3 * U + u));
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
    const float *bin = g.bi, *brec = g.br;
    const float zg = vsigmoid(xw[u] + bin[u] + hu(g, n, u) + brec[u]);
    const float rg = vsigmoid(xw[U + u] + bin[U + u] + hu(g, n, U + u) + brec[U + u]);
    const float e = hu(g, n, 2 * U + u) + brec[2 * U + u];
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
    const float* b = g.bi;
    const float zg = vsigmoid(xw[u] + b[u] + hu(g, n, u));
    const float rg = vsigmoid(xw[U + u] + b[U + u] + hu(g, n, U + u));
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
    float* a = g.A + row * g.S;
    const float hh = vtanh(xw[2 * U + u] + g.bi[2 * U + u] + hu(g, n, 2 * U + u));
    const float zg = a[u];
    a[2 * U + u] = hh;
    g.out[(n * g.T + g.s) * U + u] = zg * g.P[row * U + u] + (1.f - zg) * hh;
  }
}

// ---------------------------------------------------------------- backward pointwise
// One thread per (n, u) of step s (time t): the gradient reaching h_t is
//   dh = (dHc[n,u] + sum_z dHp[z*hslab + n*U + u]) + dout[n,s,u]
// with dHc the direct part (dhT at the first step, then for GRU the z and r
// terms the previous kernel wrote; null = 0) and dHp the hsplit partial slabs of
// the later step's dZ R^T (summed in increasing z). Writes dZ[row, :] (and dZr
// for GRU reset_after) and the direct part of dh_prev into dHn (GRU; LSTM/simple
// get it from the split-K product alone). Gm (GRU v1 phase 2): gsplit slabs.
struct BwdArgs {
  int64_t N, T, U, GU, S, t, s;
  const float* A;
  const float* P;
  const float* CP;
  const float* TC;
  const float* dout;  // (N,T,U) or null
  const float* dHc;   // (N,U) or null
  const float* dHp;
  int64_t hsplit, hslab;
  float* dHn;
  float* dC;
  float* dZ;
  float* dZr;
  const float* Gm;
  int64_t gsplit, gslab;
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
      const float gm = sum_parts(g.Gm, g.gsplit, g.gslab, n * U + u);
      dz[U + u] = gm * g.P[row * U + u] * rg * (1.f - rg);
      g.dHn[n * U + u] += gm * rg;
      continue;
    }
    const float dh = ((g.dHc ? g.dHc[n * U + u] : 0.f) + sum_parts(g.dHp, g.hsplit, g.hslab, n * U + u)) +
                     (g.dout ? g.dout[(n * g.T + g.s) * U + u] : 0.f);
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

// out[i] = (direct ? direct[i] : 0) + sum_z part[z*slab + i], i < total (dh0).
__global__ void finish_dh_kernel(const float* __restrict__ direct, const float* __restrict__ part, int64_t nsplit,
                                 int64_t slab, int64_t total, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = (direct ? direct[i] : 0.f) + sum_parts(part, nsplit, slab, i);
}

// out[y*cols + j] = sum_r M[r*ld + j] over the rows r of chunk y = blockIdx.y,
// [y*rchunk, min(rows, (y+1)*rchunk)), sequential in r; j < cols.
__global__ void column_sums_kernel(const float* __restrict__ M, int64_t rows, int64_t rchunk, int64_t cols,
                                   int64_t ld, float* __restrict__ out) {
  const int64_t r0 = blockIdx.y * rchunk, r1 = rows < r0 + rchunk ? rows : r0 + rchunk;
  float* o = out + blockIdx.y * cols;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    for (int64_t r = r0; r < r1; ++r) acc += M[r * ld + j];
    o[j] = acc;
  }
}

// out[j] = sum over rows of M[r*ld + j] (the bias gradient: dZ is N*T rows, up
// to ~100 MB at LSTM U=1024). One thread per column alone would keep only
// GU/256 SMs busy streaming it, so the rows are cut into nch chunks (enough
// blocks for ~4 per SM, >= 32 rows each), summed per chunk, then the chunk
// sums are added in chunk order: deterministic, two launches.
void column_sums(const float* M, int64_t rows, int64_t cols, int64_t ld, float* out, int sms) {
  if (cols <= 0) return;
  cudaStream_t st = cuda::stream();
  const unsigned cb = cuda::grid_for(cols, kThreads);
  int64_t nch = (4 * int64_t(sms) + cb - 1) / cb;
  const int64_t most = (rows + 31) / 32;
  nch = nch < most ? nch : most;
  nch = nch < 65535 ? nch : 65535;
  if (nch <= 1) {
    column_sums_kernel<<<dim3(cb, 1), kThreads, 0, st>>>(M, rows, rows, cols, ld, out);
    PCN_CUDA_LAUNCH_CHECK();
    return;
  }
  const int64_t rchunk = (rows + nch - 1) / nch;
  nch = (rows + rchunk - 1) / rchunk;
  cuda::DeviceScratch part(sizeof(float) * size_t(nch * cols));
  column_sums_kernel<<<dim3(cb, unsigned(nch)), kThreads, 0, st>>>(M, rows, rchunk, cols, ld, part.as<float>());
  PCN_CUDA_LAUNCH_CHECK();
  column_sums_kernel<<<dim3(cb, 1), kThreads, 0, st>>>(part.as<float>(), nch, nch, cols, cols, out);
  PCN_CUDA_LAUNCH_CHECK();
}

template <class Kernel, class Args>
void launch_rows(cudaStream_t st, Kernel k, int64_t total, const Args& args) {
  if (total <= 0) return;
  k<<<cuda::grid_for(total, kThreads), kThreads, 0, st>>>(args);
  PCN_CUDA_LAUNCH_CHECK();
}

// ---------------------------------------------------------------- forward
// Arguments as RnnFwdFn (ops/rnn.h). scratch prefix used: XW (N*T,GU), then
// zb (2*GU zeros) after the (N,GU) HU slot, which is not used: the recurrent
// partial slabs (nsplit x (N,GU)) come from the caching allocator.
void rnn_forward_cuda(const RnnParams& p, const float* x, const float* W, const float* R, const float* b,
                      const float* h0, const float* c0, float* out, float* hT, float* cT, float* ws, float* scratch) {
  const int64_t N = p.N, T = p.T, I = p.I, U = p.U, GU = p.G * p.U, NT = N * T;
  if (N <= 0) return;
  const bool lstm = p.cell == RnnCell::Lstm, gru = p.cell == RnnCell::Gru, relu = p.cell == RnnCell::SimpleRelu;
  const bool ra = p.reset_after;
  const bool v1 = gru && !ra;
  const int64_t S = (lstm || gru) ? 4 * U : U;
  cudaStream_t st = cuda::stream();
  float* A = ws;
  float* P = ws + NT * S;
  float* CP = P + NT * U;
  float* TC = CP + NT * U;
  float* XW = scratch;
  float* zb = XW + NT * GU + N * GU;
  PCN_CUDA_CHECK(cudaMemsetAsync(zb, 0, sizeof(float) * size_t(2 * GU), st));
  const float* bi = b ? b : zb;
  const float* br = (gru && ra && b) ? b + GU : zb;
  if (lstm && !c0) PCN_CUDA_CHECK(cudaMemsetAsync(cT, 0, sizeof(float) * size_t(N * U), st));

  big_gemm(false, false, NT, GU, I, x, I, W, GU, XW, GU);  // XW = X W

  // Recurrent products: HU[:, 0:ncols] = h_prev R[:, 0:ncols]; GRU v1 also
  // HU[:, 2U:3U] = (r * h_prev) R[:, 2U:3U] (its own split plan, same slabs).
  const int sms = sm_count();
  const int64_t ncols = v1 ? 2 * U : GU;
  const Split sp = plan_split(N, ncols, U, sms);
  const Split sp2 = v1 ? plan_split(N, U, U, sms) : Split{};
  const int64_t nslab = sp.nsplit > sp2.nsplit ? sp.nsplit : sp2.nsplit, slab = N * GU;
  cuda::DeviceScratch parts(sizeof(float) * size_t(nslab * slab));
  float* HU = parts.as<float>();

  StepArgs g{N, T, U, GU, S, 0, 0, XW, HU, 0, slab, bi, br, h0, U, A, P, out};
  for (int64_t s = 0; s < T; ++s) {
    g.s = s;
    g.t = p.go_backwards ? T - 1 - s : s;
    if (g.hprev) rec_gemm(st, false, sp, N, ncols, U, g.hprev, g.ldh, R, GU, HU, GU, slab);
    g.nsplit = g.hprev ? sp.nsplit : 0;  // no h_prev: h_prev R is zeros
    if (lstm) {
      const float* cprev = (s == 0 && c0) ? c0 : cT;
      fwd_lstm_kernel<<<cuda::grid_for(N * U, kThreads), kThreads, 0, st>>>(g, cprev, CP, TC, cT);
      PCN_CUDA_LAUNCH_CHECK();
    } else if (gru && ra) {
      launch_rows(st, fwd_gru_kernel, N * U, g);
    } else if (gru) {
      launch_rows(st, fwd_gru_v1_1_kernel, N * U, g);
      // HU_h = (r * h_prev) (N,U) @ R[:, 2U:3U]; rows of r*h_prev at stride T*S in A.
      rec_gemm(st, false, sp2, N, U, U, A + g.t * S + 3 * U, T * S, R + 2 * U, GU, HU + 2 * U, GU, slab);
      g.nsplit = sp2.nsplit;
      launch_rows(st, fwd_gru_v1_2_kernel, N * U, g);
    } else {
      fwd_simple_kernel<<<cuda::grid_for(N * U, kThreads), kThreads, 0, st>>>(g, relu);
      PCN_CUDA_LAUNCH_CHECK();
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
// [, dZr (N*T,GU) for GRU reset_after], then dHa, dHb (the GRU direct terms,
// alternating), dC (N,U) each. The split-K partial slabs of dh_prev (and of Gm
// for GRU v1) come from the caching allocator.
void rnn_backward_cuda(const RnnParams& p, const float* dout, const float* dhT, const float* dcT, const float* x,
                       const float* W, const float* R, const float* ws, float* dx, float* dW, float* dR, float* db,
                       float* dh0, float* dc0, float* scratch) {
  const int64_t N = p.N, T = p.T, I = p.I, U = p.U, GU = p.G * p.U, NT = N * T;
  const bool lstm = p.cell == RnnCell::Lstm, gru = p.cell == RnnCell::Gru, relu = p.cell == RnnCell::SimpleRelu;
  const bool ra = p.reset_after;
  const bool v1 = gru && !ra;
  const int64_t S = (lstm || gru) ? 4 * U : U;
  cudaStream_t st = cuda::stream();
  const float* A = ws;
  const float* P = ws + NT * S;
  const float* CP = P + NT * U;
  const float* TC = CP + NT * U;
  float* dZ = scratch;
  float* dZr = (gru && ra) ? dZ + NT * GU : dZ;  // what multiplies R (recurrent side)
  float* dHbuf[2] = {dZ + NT * GU * ((gru && ra) ? 2 : 1), nullptr};
  dHbuf[1] = dHbuf[0] + N * U;
  float* dC = dHbuf[1] + N * U;
  const size_t nu_bytes = sizeof(float) * size_t(N * U);
  const int sms = sm_count();

  if (N > 0) {
    if (dcT) PCN_CUDA_CHECK(cudaMemcpyAsync(dC, dcT, nu_bytes, cudaMemcpyDeviceToDevice, st));
    else PCN_CUDA_CHECK(cudaMemsetAsync(dC, 0, nu_bytes, st));

    // dh_prev = dZrec_t (N, K) @ R[:, 0:K]^T, K = GU (2U for GRU v1), as split-K
    // partial slabs the next (earlier) step sums; GRU v1: Gm = dZ_h R_h^T likewise.
    const int64_t kdh = v1 ? 2 * U : GU, slab = N * U;
    const Split sp = plan_split(N, U, kdh, sms);
    const Split spg = v1 ? plan_split(N, U, U, sms) : Split{};
    cuda::DeviceScratch hparts(sizeof(float) * size_t(sp.nsplit * slab));
    cuda::DeviceScratch gparts(sizeof(float) * size_t((spg.nsplit > 0 ? spg.nsplit : 1) * slab));
    float* dHp = hparts.as<float>();
    float* Gp = gparts.as<float>();

    BwdArgs g{N, T, U, GU, S, 0, 0, A, P, CP, TC, dout, dhT, dHp, 0, slab, nullptr, dC, dZ, dZr, Gp, spg.nsplit, slab};
    int64_t i = 0;  // processing index (0 = the last step)
    for (int64_t s = T - 1; s >= 0; --s, ++i) {
      const int64_t t = p.go_backwards ? T - 1 - s : s;
      g.s = s;
      g.t = t;
      g.dHn = dHbuf[i % 2];
      if (lstm) launch_rows(st, bwd_step_kernel<2>, N * U, g);
      else if (gru && ra) launch_rows(st, bwd_step_kernel<3>, N * U, g);
      else if (gru) launch_rows(st, bwd_step_kernel<4>, N * U, g);
      else if (relu) launch_rows(st, bwd_step_kernel<1>, N * U, g);
      else launch_rows(st, bwd_step_kernel<0>, N * U, g);
      if (v1) {
        // Gm = dZ_h (N,U) @ R_h^T: gradient w.r.t. (r * h_prev).
        rec_gemm(st, true, spg, N, U, U, dZ + t * GU + 2 * U, T * GU, R + 2 * U, GU, Gp, U, slab);
        launch_rows(st, bwd_step_kernel<5>, N * U, g);
      }
      rec_gemm(st, true, sp, N, U, kdh, dZr + t * GU, T * GU, R, GU, dHp, U, slab);
      g.hsplit = sp.nsplit;
      g.dHc = gru ? g.dHn : nullptr;  // LSTM / simple: dh_prev is the product alone
    }
    if (dh0) {
      finish_dh_kernel<<<cuda::grid_for(N * U, kThreads), kThreads, 0, st>>>(g.dHc, dHp, g.hsplit, slab, N * U, dh0);
      PCN_CUDA_LAUNCH_CHECK();
    }
    if (dc0) PCN_CUDA_CHECK(cudaMemcpyAsync(dc0, dC, nu_bytes, cudaMemcpyDeviceToDevice, st));
  }

  big_gemm(false, true, NT, I, GU, dZ, GU, W, GU, dx, I);  // dx = dZ W^T
  big_gemm(true, false, I, GU, NT, x, I, dZ, GU, dW, GU);  // dW = X^T dZ  (K = 0 -> zeros)
  if (v1) {
    big_gemm(true, false, U, 2 * U, NT, P, U, dZ, GU, dR, GU);
    big_gemm(true, false, U, U, NT, A + 3 * U, S, dZ + 2 * U, GU, dR + 2 * U, GU);
  } else {
    big_gemm(true, false, U, GU, NT, P, U, dZr, GU, dR, GU);  // dR = P^T dZrec
  }
  if (db) {
    column_sums(dZ, NT, GU, GU, db, sms);
    if (gru && ra) column_sums(dZr, NT, GU, GU, db + GU, sms);
  }
}

}  // namespace

void register_rnn_cuda() {
  rnn_forward_table.cuda = rnn_forward_cuda;
  rnn_backward_table.cuda = rnn_backward_cuda;
}

}  // namespace pcn
