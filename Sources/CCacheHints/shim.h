// Cache hints Swift has no spelling for: software prefetches, stores that bypass the caches, and the CPU
// vendor that decides whether the prefetches pay.
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static inline void nntop_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }
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
