// When freed heap memory goes back to the kernel (mallopt(3) and malloc_trim(3), from
// <malloc.h>, which Swift's Glibc module does not include).

#ifndef ANYDNS_RELEASE_MEMORY_H
#define ANYDNS_RELEASE_MEMORY_H

/// Stops the allocator from handing freed heap memory back to the kernel by itself. Loading a
/// zone frees and allocates libldns's parse buffers for every record; with glibc's automatic
/// trimming that could mean unmapping and faulting in the same pages once per record (a million
/// page faults for a million-record zone). Call before loading; idempotent.
void anydns_defer_heap_trimming(void);

/// Releases free heap memory back to the kernel where the allocator allows it.
void anydns_release_free_memory(void);

#endif
