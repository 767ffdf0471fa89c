// Cache hints Swift has no spelling for: software prefetches.
static inline void nntop_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void nntop_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }
