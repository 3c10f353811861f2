// 03_register_blocked.cu — 128x128 block tile, BK=8, 256 threads, each thread
// an 8x8 sub-tile in registers: per k step a thread loads 8 A + 8 B values
// from shared memory (as float4) and does 64 FMAs (4 FMA per shared load
// instead of 0.5). Single shared buffer, two barriers per k tile, scalar
// global loads. The step from here to 04 is double buffering + float4 loads.
#include "common.cuh"

const char* kName = "03_register_blocked";
const float kTol = 1e-5f;
constexpr int BM = 128, BN = 128, BK = 8;

__global__ void __launch_bounds__(256, 2) regblock(int M, int N, int K, const float* __restrict__ A,
                                                   const float* __restrict__ B, float* __restrict__ C) {
  __shared__ __align__(16) float As[BK][BM + 4];  // [k][m]: A stored transposed
  __shared__ __align__(16) float Bs[BK][BN + 4];
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[8][8] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
    // 1024 elements of each tile, 4 per thread.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = t + i * 256;
      const int am = idx / BK, ak = idx % BK;        // A tile: 128 rows x 8
      const int bk = idx / BN, bn = idx % BN;        // B tile: 8 rows x 128
      As[ak][am] = (m0 + am < M && k0 + ak < K) ? A[size_t(m0 + am) * K + k0 + ak] : 0.f;
      Bs[bk][bn] = (k0 + bk < K && n0 + bn < N) ? B[size_t(k0 + bk) * N + n0 + bn] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[k][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[k][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[k][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[k][64 + tx * 4]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int m = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int n = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
      if (m < M && n < N) C[size_t(m) * N + n] = acc[i][j];
    }
  }
}

void launch(int M, int N, int K, const float* A, const float* B, float* C, cudaStream_t s) {
  const dim3 grid{unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM), 1};
  regblock<<<grid, 256, 0, s>>>(M, N, K, A, B, C);
}

#include "main.cuh"
