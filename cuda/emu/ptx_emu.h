// ptx_emu.h — host versions of cuda/ptx.cuh (every inline-PTX instruction the
// kernels use), plus the cuda_bf16.h subset, for the host emulation (emu.h).
// transform.py replaces `#include "ptx.cuh"` and `#include <cuda_bf16.h>` with
// this header; the functions have ptx.cuh's names, signatures and semantics:
//
//   cvt_tf32           cvt.rna.tf32.f32: round to nearest, ties away from zero,
//                      to 10 mantissa bits; the low 13 bits of the result are 0.
//   mma_tf32_16x8x8    warp-collective: every lane deposits a[4], b[2] in the
//   mma_bf16_16x8x16   warp's exchange area, warp barrier, each lane computes its
//                      own 4 outputs from all lanes' fragments (layouts: see
//                      ptx.cuh), barrier. TF32 operands are truncated to their top
//                      19 bits (what the tensor core reads), bf16 pairs: lower k
//                      in the low 16 bits. Products and sums in fp32 (k order).
//   ldmatrix_x1/x2/x4  warp-collective: lane 8*i + j passes row j of matrix i;
//   (_trans)           lane L gets the word of row L/4, elements 2*(L%4), +1
//                      (trans: element (2*(L%4), L/4) low, (2*(L%4)+1, L/4) high).
//                      Addresses: 16-byte aligned, inside __shared__ (checked).
//   cp_async_16        NOT copied at once: queued per thread with its group;
//   cp_async_commit    copies happen when cp_async_wait<N> leaves at most N
//   cp_async_wait<N>   committed groups pending (bytes past src_bytes zero-filled,
//                      src not read when src_bytes == 0). A kernel that reads the
//                      destination before waiting sees emu.h's NaN poison.
//                      dst: 16-byte aligned inside __shared__; src: 16-byte
//                      aligned, not shared (and device memory in the device build).
// A collective needs all 32 lanes of a full warp at the same instruction;
// otherwise the emulator prints what it saw and aborts.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "emu.h"

// ---------------------------------------------------------------- bfloat16
struct __attribute__((aligned(2))) __nv_bfloat16 {
  uint16_t __x;
};
struct __attribute__((aligned(4))) __nv_bfloat162 {
  __nv_bfloat16 x, y;  // x in the low 16 bits
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  __nv_bfloat16 r;
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    r.__x = uint16_t((u >> 16) | 0x40);  // NaN stays a (quiet) NaN
  } else {
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    r.__x = uint16_t(u >> 16);
  }
  return r;
}
inline float __bfloat162float(__nv_bfloat16 h) {
  const uint32_t u = uint32_t(h.__x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)}; }

namespace emu {
// ---------------------------------------------------------------- warp collectives
// Exchange area: one slot per thread of the block, plus the instruction each
// lane is at (so a warp split over two different collectives is caught).
inline uint32_t wx_slot[1024][16];
inline const char* wx_op[1024];

// Deposit n words, wait for the warp, return (the caller reads the others'
// slots, then calls warp_collective_done()).
inline void warp_collective_begin(const char* op, const uint32_t* words, int n) {
  const int t = tid_linear, w = t / 32;
  if (lanes_in_warp(w) != 32) {
    std::fprintf(stderr, "emu: %s in a partial warp (%d lanes; the instruction needs all 32)\n", op, lanes_in_warp(w));
    std::abort();
  }
  std::memcpy(wx_slot[t], words, sizeof(uint32_t) * size_t(n));
  wx_op[t] = op;
  yield_to_scheduler(kWarpBar);
  for (int l = 0; l < 32; ++l)
    if (wx_op[32 * w + l] != op) {
      std::fprintf(stderr, "emu: warp %d lane %d is at %s while lane %d is at %s (divergent warp collective)\n", w,
                   t % 32, op, l, wx_op[32 * w + l] ? wx_op[32 * w + l] : "a shuffle");
      std::abort();
    }
}
// Per-warp result of a collective computed once by the first lane through
// (the others read their part): wx_out[warp][lane][4].
inline uint32_t wx_out[32][32][4];
inline bool wx_ready[32];
inline void warp_collective_done() {
  yield_to_scheduler(kWarpBar);  // nobody overwrites its slot before every lane has read
  wx_op[tid_linear] = nullptr;
  wx_ready[tid_linear / 32] = false;
}
inline const uint32_t* lane_slot(int lane) { return wx_slot[tid_linear - tid_linear % 32 + lane]; }

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---------------------------------------------------------------- cp.async queue
struct CpAsync {
  void* dst;
  const void* src;
  int bytes;
  long long group;  // -1: not committed yet
};
inline std::vector<CpAsync> cp_queue[1024];
inline long long cp_groups_committed[1024];
// Called by run_block before each block (pending copies of a finished block are dropped).
inline void ptx_reset_block() {
  for (int w = 0; w < 32; ++w) wx_ready[w] = false;
  for (int t = 0; t < nthreads; ++t) {
    cp_queue[t].clear();
    cp_groups_committed[t] = 0;
  }
}
}  // namespace emu

namespace pcn {
namespace ptx {

inline uint32_t cvt_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf / NaN: unchanged
  u += 0x1000u;                                    // half an ulp of tf32, on the magnitude: ties away from zero
  return u & 0xffffe000u;
}
}  // namespace ptx
}  // namespace pcn

namespace emu {
// Both mma shapes: gather A (16xK) and B (Kx8) from the 32 lanes' fragments
// (unpack(lane, slot words, A, B)), then every lane's d from D = A*B + C.
template <int K, class Unpack>
inline void mma_emu(const char* op, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], Unpack unpack) {
  uint32_t mine[10] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  std::memcpy(mine + 6, d, 16);
  warp_collective_begin(op, mine, 10);
  const int w = tid_linear / 32, L = tid_linear % 32;
  if (!wx_ready[w]) {
    float A[16][K], B[K][8];
    for (int l = 0; l < 32; ++l) unpack(l, lane_slot(l), A, B);
    for (int l = 0; l < 32; ++l) {
      const int g = l / 4, t = l % 4;
      const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
      for (int e = 0; e < 4; ++e) {
        float s = 0.f;
        for (int k = 0; k < K; ++k) s += A[rows[e]][k] * B[k][cols[e]];
        const float c = bits_float(lane_slot(l)[6 + e]);
        const float r = c + s;
        std::memcpy(&wx_out[w][l][e], &r, 4);
      }
    }
    wx_ready[w] = true;
  }
  float out[4];
  std::memcpy(out, wx_out[w][L], 16);
  warp_collective_done();
  for (int e = 0; e < 4; ++e) d[e] = out[e];
}
}  // namespace emu

namespace pcn {
namespace ptx {
// d += A(16x8, tf32, row) * B(8x8, tf32, col), fp32 accumulate.
inline void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  emu::mma_emu<8>("mma_tf32_16x8x8", d, a, b, [](int L, const uint32_t* s, float (&A)[16][8], float (&B)[8][8]) {
    const int g = L / 4, t = L % 4;
    auto tf = [](uint32_t u) { return emu::bits_float(u & 0xffffe000u); };  // the tensor core reads 19 bits
    A[g][t] = tf(s[0]);
    A[g + 8][t] = tf(s[1]);
    A[g][t + 4] = tf(s[2]);
    A[g + 8][t + 4] = tf(s[3]);
    B[t][g] = tf(s[4]);
    B[t + 4][g] = tf(s[5]);
  });
}

// d += A(16x16, bf16, row) * B(16x8, bf16, col), fp32 accumulate.
inline void mma_bf16_16x8x16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  emu::mma_emu<16>("mma_bf16_16x8x16", d, a, b, [](int L, const uint32_t* s, float (&A)[16][16], float (&B)[16][8]) {
    auto lo = [](uint32_t u) { return emu::bits_float(u << 16); };
    auto hi = [](uint32_t u) { return emu::bits_float(u & 0xffff0000u); };
    const int g = L / 4, t = L % 4;
    A[g][2 * t] = lo(s[0]);          A[g][2 * t + 1] = hi(s[0]);
    A[g + 8][2 * t] = lo(s[1]);      A[g + 8][2 * t + 1] = hi(s[1]);
    A[g][2 * t + 8] = lo(s[2]);      A[g][2 * t + 9] = hi(s[2]);
    A[g + 8][2 * t + 8] = lo(s[3]);  A[g + 8][2 * t + 9] = hi(s[3]);
    B[2 * t][g] = lo(s[4]);          B[2 * t + 1][g] = hi(s[4]);
    B[2 * t + 8][g] = lo(s[5]);      B[2 * t + 9][g] = hi(s[5]);
  });
}

}  // namespace ptx
}  // namespace pcn

namespace emu {
inline void check_shared16(const char* op, const void* p) {
  if (reinterpret_cast<uintptr_t>(p) % 16) {
    std::fprintf(stderr, "emu: %s address %p is not 16-byte aligned (faults on the GPU)\n", op, p);
    std::abort();
  }
  if (!in_shared(p, 16)) {
    std::fprintf(stderr, "emu: %s address %p is not inside a __shared__ array (16 bytes)\n", op, p);
    std::abort();
  }
}
// ldmatrix: NM matrices; lanes 0..8*NM-1 pass row addresses.
template <int NM, bool TRANS>
inline void ldmatrix(uint32_t* r, const void* p, const char* op) {
  const int L = tid_linear % 32;
  uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  if (L < 8 * NM) check_shared16(op, p);
  const uint32_t mine[2] = {uint32_t(addr), uint32_t(addr >> 32)};
  warp_collective_begin(op, mine, 2);
  uint32_t out[4];
  for (int i = 0; i < NM; ++i) {
    auto row = [&](int j) {
      const uint32_t* s = lane_slot(8 * i + j);
      return reinterpret_cast<const uint16_t*>(uintptr_t(s[0]) | (uintptr_t(s[1]) << 32));
    };
    if (!TRANS) {
      const uint16_t* rp = row(L / 4);
      out[i] = uint32_t(rp[2 * (L % 4)]) | (uint32_t(rp[2 * (L % 4) + 1]) << 16);
    } else {
      out[i] = uint32_t(row(2 * (L % 4))[L / 4]) | (uint32_t(row(2 * (L % 4) + 1)[L / 4]) << 16);
    }
  }
  warp_collective_done();
  for (int i = 0; i < NM; ++i) r[i] = out[i];
}
}  // namespace emu

namespace pcn {
namespace ptx {
inline void ldmatrix_x1(uint32_t (&r)[1], const void* p) { emu::ldmatrix<1, false>(r, p, "ldmatrix_x1"); }
inline void ldmatrix_x2(uint32_t (&r)[2], const void* p) { emu::ldmatrix<2, false>(r, p, "ldmatrix_x2"); }
inline void ldmatrix_x4(uint32_t (&r)[4], const void* p) { emu::ldmatrix<4, false>(r, p, "ldmatrix_x4"); }
inline void ldmatrix_x2_trans(uint32_t (&r)[2], const void* p) { emu::ldmatrix<2, true>(r, p, "ldmatrix_x2_trans"); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) { emu::ldmatrix<4, true>(r, p, "ldmatrix_x4_trans"); }

inline void cp_async_16(void* dst_smem, const void* src_global, int src_bytes) {
  emu::check_shared16("cp_async_16 dst", dst_smem);
  if (src_bytes < 0 || src_bytes > 16) {
    std::fprintf(stderr, "emu: cp_async_16 src_bytes %d outside 0..16\n", src_bytes);
    std::abort();
  }
  if (src_bytes > 0) {
    if (reinterpret_cast<uintptr_t>(src_global) % 16) {
      std::fprintf(stderr, "emu: cp_async_16 src %p is not 16-byte aligned (faults on the GPU)\n", src_global);
      std::abort();
    }
    if (emu::in_shared(src_global, 1)) {
      std::fprintf(stderr, "emu: cp_async_16 src %p is shared memory (must be global)\n", src_global);
      std::abort();
    }
    emu::check_global("cp_async_16 src", src_global, size_t(src_bytes));
  }
  emu::cp_queue[emu::tid_linear].push_back({dst_smem, src_global, src_bytes, -1});
}
inline void cp_async_commit() {
  const int t = emu::tid_linear;
  bool any = false;
  for (auto& c : emu::cp_queue[t])
    if (c.group < 0) { c.group = emu::cp_groups_committed[t]; any = true; }
  (void)any;  // an empty group is legal
  ++emu::cp_groups_committed[t];
}
template <int N>
inline void cp_async_wait() {
  static_assert(N >= 0, "cp_async_wait<N>: N >= 0");
  const int t = emu::tid_linear;
  // Groups g < committed - N must be complete.
  const long long done_below = emu::cp_groups_committed[t] - N;
  auto& q = emu::cp_queue[t];
  size_t keep = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const emu::CpAsync c = q[i];
    if (c.group >= 0 && c.group < done_below) {
      unsigned char buf[16] = {};
      if (c.bytes > 0) std::memcpy(buf, c.src, size_t(c.bytes));
      std::memcpy(c.dst, buf, 16);
    } else {
      q[keep++] = c;
    }
  }
  q.resize(keep);
}

}  // namespace ptx
}  // namespace pcn

namespace emu {
inline const bool ptx_hook_installed = (block_start_hook = ptx_reset_block, true);
}  // namespace emu
