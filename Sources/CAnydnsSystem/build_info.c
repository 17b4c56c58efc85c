#include "build_info.h"

#if __has_include("generated/build_commit.h")
#include "generated/build_commit.h"
#endif

#ifndef ANYDNS_BUILD_COMMIT
#define ANYDNS_BUILD_COMMIT "unknown"
#endif

const char *anydns_build_commit(void) { return ANYDNS_BUILD_COMMIT; }
