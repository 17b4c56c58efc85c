#include "release_memory.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void anydns_defer_heap_trimming(void) {
#if defined(__GLIBC__)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

void anydns_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
