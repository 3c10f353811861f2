// vec.h — the vector type and the loads/stores the direct conv kernels share.
//
// Included INSIDE a kernel file's `namespace pcn::PCN_ISA_NS { namespace { ... } }` after
// that file defines `constexpr int VW` (16 / 8 / 4 floats for AVX-512 / AVX2 / SSE2), so
// each of the three builds gets its own copy (csrc/isa.h: nothing may be shared across
// the builds). Needs <immintrin.h> and <cstdint> included at file scope first.
#ifndef PCN_ISA_VEC_BODY
#define PCN_ISA_VEC_BODY

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));  // unaligned access

inline vf loadu(const float* p) { return *reinterpret_cast<const vfu*>(p); }
inline void storeu(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
inline vf relu(vf a) {
  const vf z = {};
  return (a > z) | (a != a) ? a : z;  // NaN stays NaN
}

// p[0, n) = v[0, n), 0 <= n < VW (no access past p + n).
inline void store_part(float* p, vf v, int64_t n) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1u), (__m512)v);
#elif defined(__AVX2__)
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx), (__m256)v);
#else
  for (int i = 0; i < VW && i < n; ++i) p[i] = v[i];  // the VW bound lets GCC see the size
#endif
}

#endif  // PCN_ISA_VEC_BODY
