// Relaxed atomic loads, stores, compare-and-swap and add on 64-bit words in shared memory, for
// the lock-free tables the UDP workers share (response rate limiting, the load meter).

#ifndef ANYDNS_ATOMICS_H
#define ANYDNS_ATOMICS_H

#include <stdbool.h>
#include <stdint.h>

static inline uint64_t anydns_atomic_load(const uint64_t *word) {
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

static inline void anydns_atomic_store(uint64_t *word, uint64_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELAXED);
}

/// Replaces `*word` with `desired` if it still holds `expected`; true when it did.
static inline bool anydns_atomic_compare_exchange(uint64_t *word, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/// Adds `value` and returns the new value.
static inline uint64_t anydns_atomic_add(uint64_t *word, uint64_t value) {
    return __atomic_add_fetch(word, value, __ATOMIC_RELAXED);
}

#endif
