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
