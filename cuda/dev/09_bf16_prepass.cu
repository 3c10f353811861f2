// 09_bf16_prepass.cu — BF16 v3, option (a) (the default at precision "medium"): a pre-pass
// (`tc3_prepass`) writes op(A) and op(B) as k-contiguous bf16 copies (rows padded to the block
// tile, k to 64, zeros), then `sgemm_bf16_tc3`: 128x256x64 bf16 tiles, 8 warps of 64x64, 4-stage
// cp.async pipeline in 192 KiB of swizzled shared memory, every fragment one ldmatrix.x4, no
// conversions or bounds checks in the main loop (249 SASS instructions per 128 HMMA.16816 per
// k tile). Timed including the pre-pass (scratch allocated once, outside the timing).
// Predicted (NOTES.md, v3): GEMM alone 480-560 TFLOP/s, with the pre-pass (~0.07-0.09 ms at
// 4096^3) 370-450 TFLOP/s = 50-60 % of cuBLAS bf16 in/out (741). NOT YET RUN ON A GPU.
#include "../gemm_kernels.cuh"
#define PCN_LAB_BASELINE 2  // cuBLAS bf16 in/out, fp32 accumulate
#include "common.cuh"

const char* kName = "09_bf16_prepass (BF16)";
const float kTol = 1e-2f;

void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s) {
  using namespace pcn::gemm_kernels;
  static bool attr = false;
  if (!attr) {
    CK(cudaFuncSetAttribute(sgemm_bf16_tc3<>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kTb3SmemBytes)));
    attr = true;
  }
  const int64_t kp = (K + TB3_BK - 1) / TB3_BK * TB3_BK;
  const int64_t mp = (M + TC3_BM - 1) / TC3_BM * TC3_BM, np = (N + TC3_BN - 1) / TC3_BN * TC3_BN;
  static __nv_bfloat16* buf = nullptr;  // grown as needed, never freed (lab)
  static size_t cap = 0;
  const size_t need = size_t(mp + np) * size_t(kp) * 2 + 16;
  if (need > cap) {
    if (buf) CK(cudaFree(buf));
    CK(cudaMalloc(&buf, need));
    cap = need;
  }
  __nv_bfloat16 *a16 = buf, *b16 = buf + mp * kp;
  if (kp > 0) {
    const unsigned gy = unsigned(std::min<int64_t>(kp / 32, 65535));
    tc3_prepass<true, __nv_bfloat16><<<dim3(unsigned(mp / 32), gy), kThreads, 0, s>>>(A, K, M, K, kp, a16);   // A (M x K) row-major
    tc3_prepass<false, __nv_bfloat16><<<dim3(unsigned(np / 32), gy), kThreads, 0, s>>>(B, N, N, K, kp, b16);  // B (K x N): n-contiguous
  }
  const int64_t tiles_m = mp / TC3_BM;
  for (int64_t t0 = 0; t0 < tiles_m; t0 += 65535) {
    const dim3 grid{unsigned(np / TC3_BN), unsigned(std::min<int64_t>(65535, tiles_m - t0)), 1};
    sgemm_bf16_tc3<><<<grid, kThreads, kTb3SmemBytes, s>>>(M, N, kp, 1.f, a16, b16, 0.f, C, N, t0 * TC3_BM);
  }
}

#include "main.cuh"
