// The git commit this binary was built from, stamped by `make` (scripts/stamp-build-info.sh)
// into generated/build_commit.h; "unknown" for a plain `swift build` without the stamp.
#pragma once

/// The commit as `git describe --always --dirty` printed it, or "unknown".
const char *anydns_build_commit(void);
