#!/bin/sh
# Writes the git commit being built into Sources/CAnydnsSystem/generated/build_commit.h, which
# `anydns --version`, /health and the anydns_build_info metric report. Rewrites the file (and
# touches build_info.c, so the build recompiles that one file) only when the commit changed.
# Outside a git checkout (a source tarball) the commit is "unknown".
set -eu
cd "$(dirname "$0")/.."
commit=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
header=Sources/CAnydnsSystem/generated/build_commit.h
line="#define ANYDNS_BUILD_COMMIT \"$commit\""
if [ ! -f "$header" ] || [ "$(cat "$header")" != "$line" ]; then
    mkdir -p "$(dirname "$header")"
    printf '%s\n' "$line" > "$header"
    touch Sources/CAnydnsSystem/build_info.c
fi
