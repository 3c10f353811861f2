// rnn_isa.h — per-ISA pieces of the RNN kernels (defined in csrc/cpu/isa/rnn.cpp).
//
// The per-step recurrent product h_prev (N,U) @ R (U,G*U) has few rows and a
// weight matrix that is the same for all T steps, so R is packed ONCE per call
// into column panels and every step runs a small register-blocked kernel over
// the panels (no per-step packing, unlike a general SGEMM).
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {

// Panel width of the packed layout (the same for every ISA).
constexpr int64_t kRnnPanel = 32;
// Floats needed to pack a (K, Nc) operand.
inline int64_t rnn_packed_floats(int64_t K, int64_t Nc) {
  return (Nc + kRnnPanel - 1) / kRnnPanel * kRnnPanel * K;
}

// Bp <- op(B) (K, Nc) in panels: Bp[(jb*K + k)*32 + jj] = op(B)[k, jb*32 + jj], zero
// padded. op(B) = B (K,Nc) [ldb] or, when trans, B^T with B (Nc,K) [ldb].
PCN_DECLARE_ISA(void rnn_pack_b(const float* B, int64_t ldb, bool trans, int64_t K, int64_t Nc, float* Bp))
// C (M,Nc) [ldc] = A (M,K) [lda] @ Bp + (accumulate ? C : 0). OpenMP-parallel
// over (panel, row block) when large and not already inside a parallel region.
PCN_DECLARE_ISA(void rnn_gemm_packed(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda,
                                     const float* Bp, bool accumulate, float* C, int64_t ldc))
// Same, plus a second product in the same pass over C: C = A @ Bp + A2 (M,K2) [lda2] @ Bp2
// (+ C when accumulate); Bp2 packed with the same column count. K2 = 0: no second product.
PCN_DECLARE_ISA(void rnn_gemm_packed2(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda,
                                      const float* Bp, int64_t K2, const float* A2, int64_t lda2, const float* Bp2,
                                      bool accumulate, float* C, int64_t ldc))

// Fused forward gate math for one batch row of one step (vectorized fast
// exp/tanh, ~1e-7 relative error; NaN propagates). All pointers non-null:
// xw = x_t W row, hu = h_prev R row (zeros when h_prev is zero), b = bias
// (zeros when absent), hp = h_prev row. Gate layouts as in ops/rnn.h.
//   simple: a[u] = ho[u] = act(xw + b + hu)                          (G=1)
PCN_DECLARE_ISA(void rnn_simple_row(int64_t U, bool relu, const float* xw, const float* hu, const float* b,
                                    float* a, float* ho))
//   lstm: a = [i,f,g,o]; cpw = c_prev copy; tc = tanh(c); cn = c; ho = o*tanh(c)
PCN_DECLARE_ISA(void rnn_lstm_row(int64_t U, const float* xw, const float* hu, const float* b, const float* cp,
                                  float* a, float* cpw, float* tc, float* cn, float* ho))
//   gru reset_after: a = [z, r, hh, hu_h + brec_h]; ho = z*hp + (1-z)*hh
PCN_DECLARE_ISA(void rnn_gru_row(int64_t U, const float* xw, const float* hu, const float* bin, const float* brec,
                                 const float* hp, float* a, float* ho))
//   gru v1, phase 1: a[z], a[r], a[3U+u] = r*hp; phase 2 (hu_h = (r*hp) R_h): a[hh], ho
PCN_DECLARE_ISA(void rnn_gru_v1_row1(int64_t U, const float* xw, const float* hu, const float* b, const float* hp,
                                     float* a))
PCN_DECLARE_ISA(void rnn_gru_v1_row2(int64_t U, const float* xw, const float* hu, const float* b, const float* hp,
                                     float* a, float* ho))

// Backward gate math for one batch row of one step (the reverse of the above):
// dh = dcarry + dov (dov null: no output gradient); dz = pre-activation
// gradients (G*U). lstm: dcn (in: dc carried from step t+1, out: dc * f).
// gru: dzr = what multiplies R, dhn = direct dh_prev term. v1 phase 2: g = dZ_h R_h^T.
PCN_DECLARE_ISA(void rnn_simple_bwd_row(int64_t U, bool relu, const float* dcarry, const float* dov, const float* a,
                                        float* dz))
PCN_DECLARE_ISA(void rnn_lstm_bwd_row(int64_t U, const float* dcarry, const float* dov, const float* a,
                                      const float* cp, const float* tc, float* dcn, float* dz))
PCN_DECLARE_ISA(void rnn_gru_bwd_row(int64_t U, const float* dcarry, const float* dov, const float* a,
                                     const float* hp, float* dz, float* dzr, float* dhn))
PCN_DECLARE_ISA(void rnn_gru_v1_bwd_row1(int64_t U, const float* dcarry, const float* dov, const float* a,
                                         const float* hp, float* dz, float* dhn))
// out[j] = sum_r M[r*ld + j], r < rows, j < cols (overwrites out); OpenMP over
// 64-column blocks when large and not already inside a parallel region.
PCN_DECLARE_ISA(void rnn_column_sums(const float* M, int64_t rows, int64_t cols, int64_t ld, float* out))
PCN_DECLARE_ISA(void rnn_gru_v1_bwd_row2(int64_t U, const float* a, const float* hp, const float* g, float* dz,
                                         float* dhn))
}  // namespace pcn
