// Cache hints Swift has no spelling for: software prefetches, and the CPU vendor that decides whether
// they pay.
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static inline void nntop_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }
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
