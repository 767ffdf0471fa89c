// Cache hints Swift has no spelling for: software prefetches, stores that bypass the caches, and the CPU
// vendor that decides whether the prefetches pay; and 8-float loads, stores and halves that always inline.
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static inline void nntop_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void nntop_prefetch_read_l2(const void *p) { __builtin_prefetch(p, 0, 2); }
// 16 floats to a 64-byte aligned p, past the caches (no read of the line first).
typedef float nntop_v16f __attribute__((ext_vector_type(16)));
static inline void nntop_stream16(float *p, nntop_v16f v) { __builtin_nontemporal_store(v, (nntop_v16f *)p); }
// Orders the streamed stores before what follows (they are weakly ordered).
static inline void nntop_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}
static inline void nntop_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

// 8 floats from or to any p, and a 16-float vector's halves. Swift's own spellings (loadUnaligned and
// storeBytes as SIMD8<Float>, SIMD16's lowHalf and highHalf) stayed calls in the convs' large functions
// (84 call sites in the weight gradients and transformed convs, each spilling the vector registers).
typedef float nntop_v8f __attribute__((ext_vector_type(8)));
static inline nntop_v8f nntop_load8(const float *p) { nntop_v8f v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void nntop_store8(float *p, nntop_v8f v) { __builtin_memcpy(p, &v, sizeof v); }
static inline nntop_v8f nntop_low8(nntop_v16f v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
static inline nntop_v8f nntop_high8(nntop_v16f v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }

// 1 on an AMD processor (CPUID vendor "AuthenticAMD"), else 0.
static inline int nntop_cpu_is_amd(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;   // "Auth" "enti" "cAMD"
#else
    return 0;
#endif
}

// 1 where the kernels are compiled for 32 vector registers of 16 floats (AVX-512), else 0: the register
// tiles' shape (Kernels/TileProduct.swift). The compiler's target, not the running CPU.
static inline int nntop_wide_vector_registers(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

#if defined(__AVX2__)
#include <immintrin.h>
// The 4×4 transposes in each 128-bit lane of the rows a, b, c, d: q[j] lane-wise holds column j, (a_j,
// b_j, c_j, d_j). The 8×8 transpose and the phase split below are built on it.
static inline void nntop_lane_transpose4(__m256 a, __m256 b, __m256 c, __m256 d, __m256 q[4]) {
    __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
    __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
    q[0] = _mm256_shuffle_ps(t0, t2, 0x44); q[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    q[2] = _mm256_shuffle_ps(t1, t3, 0x44); q[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}
#endif

// Even/odd splits and interleaves of 32 floats held as two 16-float vectors (a then b), in AVX2's in-lane
// shuffles and 128-bit lane moves: written element by element (Transpose.swift) LLVM took them apart into
// scalar inserts on AVX2. nntop_avx2_shuffles() is 1 where these are compiled for AVX2 without AVX-512
// (which keeps the Swift versions).
#if defined(__AVX2__) && !defined(__AVX512F__)
static inline int nntop_avx2_shuffles(void) { return 1; }
static inline nntop_v16f nntop_join8(__m256 lo, __m256 hi) {
    return __builtin_shufflevector((nntop_v8f)lo, (nntop_v8f)hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
static inline __m256 nntop_pick8(__m256 lo, __m256 hi, int odd) {
    __m256 s = odd ? _mm256_shuffle_ps(lo, hi, 0xDD) : _mm256_shuffle_ps(lo, hi, 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}
// a0 a2 … a14 b0 b2 … b14 (odd: a1 a3 … b15).
static inline nntop_v16f nntop_split16(nntop_v16f a, nntop_v16f b, int odd) {
    return nntop_join8(nntop_pick8((__m256)nntop_low8(a), (__m256)nntop_high8(a), odd),
                       nntop_pick8((__m256)nntop_low8(b), (__m256)nntop_high8(b), odd));
}
// a0 b0 a1 b1 … a7 b7 (high: a8 b8 … a15 b15).
static inline nntop_v16f nntop_zip16(nntop_v16f a, nntop_v16f b, int high) {
    __m256 x = high ? (__m256)nntop_high8(a) : (__m256)nntop_low8(a), y = high ? (__m256)nntop_high8(b) : (__m256)nntop_low8(b);
    __m256 l = _mm256_unpacklo_ps(x, y), h = _mm256_unpackhi_ps(x, y);
    return nntop_join8(_mm256_permute2f128_ps(l, h, 0x20), _mm256_permute2f128_ps(l, h, 0x31));
}
// The 8×8 floats at src (rows srcStride apart) transposed into dst (rows dstStride apart), in registers.
static inline void nntop_transpose8(const float *src, long srcStride, float *dst, long dstStride) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + srcStride), r2 = _mm256_loadu_ps(src + 2 * srcStride);
    __m256 r3 = _mm256_loadu_ps(src + 3 * srcStride), r4 = _mm256_loadu_ps(src + 4 * srcStride);
    __m256 r5 = _mm256_loadu_ps(src + 5 * srcStride), r6 = _mm256_loadu_ps(src + 6 * srcStride);
    __m256 r7 = _mm256_loadu_ps(src + 7 * srcStride);
    __m256 s[4], u[4];
    nntop_lane_transpose4(r0, r1, r2, r3, s); nntop_lane_transpose4(r4, r5, r6, r7, u);
    for (int j = 0; j < 4; j++) {
        _mm256_storeu_ps(dst + j * dstStride, _mm256_permute2f128_ps(s[j], u[j], 0x20));
        _mm256_storeu_ps(dst + (4 + j) * dstStride, _mm256_permute2f128_ps(s[j], u[j], 0x31));
    }
}
#else
static inline int nntop_avx2_shuffles(void) { return 0; }
static inline void nntop_transpose8(const float *src, long srcStride, float *dst, long dstStride) {
    for (int i = 0; i < 8; i++) for (int j = 0; j < 8; j++) dst[j * dstStride + i] = src[i * srcStride + j];
}
// The same as above for any target (Transpose.swift keeps its own versions there).
static inline nntop_v16f nntop_split16(nntop_v16f a, nntop_v16f b, int odd) {
    return odd ? __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
               : __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}
static inline nntop_v16f nntop_zip16(nntop_v16f a, nntop_v16f b, int high) {
    return high ? __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
                : __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}
#endif

// The 32 floats at p as 8 runs of 4 (columns 4t + q, t < 8) split into their four phases: phase q's
// first four into dq, its last four into dq + next. Four 4×4 transposes in AVX's lanes (the transformed
// 3×3 convs' bordered copies, Conv3x3.swift's PhasedRows: the even/odd splits of Transpose.swift, twice,
// went through the stack there).
#if defined(__AVX2__)
static inline void nntop_phases32(const float *p, float *d0, float *d1, float *d2, float *d3, long next) {
    // Runs t and t + 4 side by side, t < 4.
    __m256 a = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(p + 16), 1);
    __m256 b = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 4)), _mm_loadu_ps(p + 20), 1);
    __m256 c = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 8)), _mm_loadu_ps(p + 24), 1);
    __m256 d = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 12)), _mm_loadu_ps(p + 28), 1);
    __m256 q[4];
    nntop_lane_transpose4(a, b, c, d, q);
    float *dq[4] = {d0, d1, d2, d3};
    for (int j = 0; j < 4; j++) {
        _mm_storeu_ps(dq[j], _mm256_castps256_ps128(q[j])); _mm_storeu_ps(dq[j] + next, _mm256_extractf128_ps(q[j], 1));
    }
}
#else
static inline void nntop_phases32(const float *p, float *d0, float *d1, float *d2, float *d3, long next) {
    float *d[4] = {d0, d1, d2, d3};
    for (int q = 0; q < 4; q++) for (int t = 0; t < 8; t++) d[q][t < 4 ? t : next + t - 4] = p[4 * t + q];
}
#endif
