// Returning freed heap memory to the kernel (malloc_trim(3), from <malloc.h>, which Swift's Glibc
// module does not include).

#ifndef ANYDNS_RELEASE_MEMORY_H
#define ANYDNS_RELEASE_MEMORY_H

/// Releases free heap memory back to the kernel where the allocator allows it.
void anydns_release_free_memory(void);

#endif
