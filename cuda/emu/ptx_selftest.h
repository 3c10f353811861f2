// ptx_selftest.h — C entry points (ctypes, from cuda/emu/test_emu_gemm.py)
// that run one emulated block calling the ptx_emu.h functions with operands
// the test builds itself from the PTX ISA layouts, so the emulation of each
// instruction is checked against hand-computed results. Included by
// no_cuda_emu.cpp when the gemm family is emulated.
#pragma once
#include <cstdint>
#include <cstring>

#include "emu.h"
#include "ptx_emu.h"

#define PCN_EMU_EXPORT extern "C" __attribute__((visibility("default")))

// One warp: lane L passes a[4*L..], b[2*L..], d[4*L..] (in/out) to one mma.
PCN_EMU_EXPORT void pcn_emu_test_mma(int bf16, const uint32_t* a, const uint32_t* b, float* d) {
  emu::launch("ptx_selftest mma", __func__, [&]() {
    const int L = threadIdx.x;
    uint32_t fa[4], fb[2];
    float fd[4];
    for (int i = 0; i < 4; ++i) fa[i] = a[4 * L + i], fd[i] = d[4 * L + i];
    for (int i = 0; i < 2; ++i) fb[i] = b[2 * L + i];
    if (bf16) pcn::ptx::mma_bf16_16x8x16(fd, fa, fb);
    else pcn::ptx::mma_tf32_16x8x8(fd, fa, fb);
    for (int i = 0; i < 4; ++i) d[4 * L + i] = fd[i];
  }, 1, 32);
}

PCN_EMU_EXPORT void pcn_emu_test_cvt_tf32(const float* x, uint32_t* out, long long n) {
  for (long long i = 0; i < n; ++i) out[i] = pcn::ptx::cvt_tf32(x[i]);
}

PCN_EMU_EXPORT void pcn_emu_test_bf16(const float* x, uint16_t* out, long long n) {
  for (long long i = 0; i < n; ++i) out[i] = __float2bfloat16_rn(x[i]).__x;
}

// ldmatrix: shared tile of 64 rows x 8 halves (filled from src), lane L points
// at row rows[L] plus byte offset off[L] (0 in a correct call); out[L*4 + i] = r[i].
PCN_EMU_EXPORT void pcn_emu_test_ldmatrix(int nm, int trans, const uint16_t* src, const int* rows, const int* off,
                                          uint32_t* out) {
  emu::launch("ptx_selftest ldmatrix", __func__, [&]() {
    __shared__ __align__(16) uint16_t tile[64][8];
    emu::shared_decl(tile, sizeof(tile));
    const int L = threadIdx.x;
    for (int i = L; i < 64 * 8; i += 32) tile[i / 8][i % 8] = src[i];
    __syncthreads();
    const void* p = reinterpret_cast<const char*>(&tile[rows[L]][0]) + off[L];
    uint32_t r[4] = {0, 0, 0, 0};
    if (nm == 1) { uint32_t q[1]; trans ? (void)0 : pcn::ptx::ldmatrix_x1(q, p); r[0] = q[0]; }
    if (nm == 2) { uint32_t q[2]; trans ? pcn::ptx::ldmatrix_x2_trans(q, p) : pcn::ptx::ldmatrix_x2(q, p); r[0] = q[0]; r[1] = q[1]; }
    if (nm == 4) { trans ? pcn::ptx::ldmatrix_x4_trans(*reinterpret_cast<uint32_t(*)[4]>(r), p)
                         : pcn::ptx::ldmatrix_x4(*reinterpret_cast<uint32_t(*)[4]>(r), p); }
    for (int i = 0; i < 4; ++i) out[4 * L + i] = r[i];
  }, 1, 32);
}

// cp.async: 32 threads; thread t copies two 16-byte chunks from src (global):
// chunk A = src[4t..4t+3] with bytes_a[t] (group 0), chunk B = src[128 + 4t..]
// with bytes_b[t] (group 1); a chunk with 0 bytes passes src = nullptr + 16
// (never read). Snapshots of the thread's own 8 shared floats go to
// out[0*256 + 8t..] before any wait, out[1*256..] after wait<1>, out[2*256..]
// after wait<0>. dst_off[t] (0 in a correct call) offsets the destination in
// bytes; global_dst != 0 aims the first copy at a global (non-shared) buffer.
PCN_EMU_EXPORT void pcn_emu_test_cp_async(const float* src, const int* bytes_a, const int* bytes_b, const int* dst_off,
                                          int global_dst, float* out) {
  static float not_shared[256 + 8] __attribute__((aligned(16)));
  emu::launch("ptx_selftest cp_async", __func__, [&]() {
    __shared__ __align__(16) float sm[32][8];
    emu::shared_decl(sm, sizeof(sm));
    const int t = threadIdx.x;
    float* da = global_dst ? &not_shared[8 * t] : &sm[t][0];
    da = reinterpret_cast<float*>(reinterpret_cast<char*>(da) + dst_off[t]);
    const float* sa = bytes_a[t] ? src + 4 * t : reinterpret_cast<const float*>(16);
    const float* sb = bytes_b[t] ? src + 128 + 4 * t : reinterpret_cast<const float*>(16);
    pcn::ptx::cp_async_16(da, sa, bytes_a[t]);
    pcn::ptx::cp_async_commit();
    pcn::ptx::cp_async_16(&sm[t][4], sb, bytes_b[t]);
    pcn::ptx::cp_async_commit();
    for (int i = 0; i < 8; ++i) out[0 * 256 + 8 * t + i] = sm[t][i];
    pcn::ptx::cp_async_wait<1>();
    for (int i = 0; i < 8; ++i) out[1 * 256 + 8 * t + i] = sm[t][i];
    pcn::ptx::cp_async_wait<0>();
    for (int i = 0; i < 8; ++i) out[2 * 256 + 8 * t + i] = sm[t][i];
  }, 1, 32);
}

// Dynamic shared memory: a launch asking for `bytes` with the attribute set to
// `attr` (0: not set). Each thread writes its index into the dynamic buffer
// and reads its neighbour's after a barrier; out[t] = neighbour, out[32 + t] =
// the element read before anyone wrote (poison).
PCN_EMU_EXPORT void pcn_emu_test_dyn_smem(long long bytes, int attr, float* out) {
  struct K {
    static void kernel() {}  // stands for the kernel: its address keys the attribute
  };
  if (attr) cudaFuncSetAttribute(&K::kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, attr);
  emu::next_kernel = emu::fn_addr(&K::kernel);
  emu::launch("ptx_selftest dyn_smem", __func__, [&]() {
    float* const dsm = reinterpret_cast<float*>(emu::dyn_smem());
    const int t = threadIdx.x;
    const long long n = bytes / 4;
    out[32 + t] = dsm[n - 1 - t];
    __syncthreads();
    dsm[n - 1 - t] = float(t);
    __syncthreads();
    out[t] = dsm[n - 1 - (t + 1) % 32];
  }, dim3(1), dim3(32), size_t(bytes), nullptr);
}
