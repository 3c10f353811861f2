// 05_tf32_mma.cu — the production TF32 tensor-core kernel: mma.sync.m16n8k8 (HMMA.1688.F32.TF32),
// operands rounded with cvt.rna.tf32 while staged into shared memory ([m][k] and [n][k], rows
// padded to 36 words: conflict-free fragment loads), 128x128x32 tile, 8 warps of 64x32, register
// prefetch of the next tile. H100: 63 TFLOP/s (~17% of cuBLAS TF32; see NOTES.md): next steps are
// cp.async multi-stage pipelining, ldmatrix, larger warp tiles, then wgmma.
#include "../gemm_kernels.cuh"
#include "common.cuh"

const char* kName = "05_tf32_mma";
const float kTol = 1e-3f;

void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s) {
  using namespace pcn::gemm_kernels;
  // Row bands of at most 65535 tiles in grid.y, as in cuda/gemm.cu.
  const bool vecA = K % 4 == 0 && (reinterpret_cast<uintptr_t>(A) & 15) == 0;
  const bool vecB = N % 4 == 0 && (reinterpret_cast<uintptr_t>(B) & 15) == 0;
  const int64_t tiles_m = (M + 127) / 128;
  for (int64_t t0 = 0; t0 < tiles_m; t0 += 65535) {
    const dim3 grid{unsigned((N + 127) / 128), unsigned(std::min<int64_t>(65535, tiles_m - t0)), 1};
    sgemm_tc<false, false, false><<<grid, kThreads, 0, s>>>(M, N, K, 1.f, A, K, B, N, 0.f, C, N, vecA, vecB, t0 * 128);
  }
}

#include "main.cuh"
