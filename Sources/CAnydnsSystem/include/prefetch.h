// A hint to the processor to start loading memory that is about to be read
// (__builtin_prefetch, which Swift cannot spell).

#ifndef ANYDNS_PREFETCH_H
#define ANYDNS_PREFETCH_H

/// Starts bringing the cache line at `address` closer; never faults, never required.
static inline void anydns_prefetch(const void *address) { __builtin_prefetch(address); }

#endif
