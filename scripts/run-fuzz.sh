#!/bin/bash
# Runs libFuzzer targets built by `make fuzz-build` (README "Fuzzing").
#   FUZZ_RUNS=N scripts/run-fuzz.sh BIN_DIR "query zonefile config" [libFuzzer flags...]
# Each target runs with -runs=N on a copy of Fuzz/corpus/<target> in a temporary directory (the
# committed corpus never grows) and TMPDIR pointed there. A crash input is copied to
# Fuzz/out/<target>/ and the script exits 1 after the other targets have run.
set -u
bin=$1
targets=$2
shift 2
runs=${FUZZ_RUNS:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
failed=0
# libFuzzer and ASan report crashes themselves; the Swift runtime backtracer only slows them.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$root/Fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
summary=""
for target in $targets; do
    case $target in
        query) product=FuzzQuery ;;
        zonefile) product=FuzzZoneFile ;;
        config) product=FuzzConfig ;;
        *) echo "unknown fuzz target $target" >&2; exit 2 ;;
    esac
    work=$(mktemp -d "${FUZZ_TMP:-/tmp}/anydns-fuzz-$target.XXXXXX")
    mkdir -p "$work/corpus" "$work/tmp" "$work/artifacts"
    cp "$root/Fuzz/corpus/$target"/* "$work/corpus/"
    echo "== $target: $bin/$product -runs=$runs $*"
    TMPDIR="$work/tmp" "$bin/$product" -runs="$runs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" >"$work/log" 2>&1
    status=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -1)
    done_runs=$(grep -oE "stat::number_of_executed_units: +[0-9]+" "$work/log" | grep -oE '[0-9]+$')
    rate=$(grep -oE "stat::average_exec_per_sec: +[0-9]+" "$work/log" | grep -oE '[0-9]+$')
    if [ $status -ne 0 ]; then
        failed=1
        mkdir -p "$root/Fuzz/out/$target"
        cp "$work/artifacts"/* "$root/Fuzz/out/$target/" 2>/dev/null
        cp "$work/log" "$root/Fuzz/out/$target/log"
        tail -60 "$work/log"
        summary+="$target: FAILED (exit $status) after ${done_runs:-?} runs; input and log in Fuzz/out/$target/"$'\n'
    else
        echo "$done_line"
        # libFuzzer divides by whole seconds: a run shorter than one second reports 0.
        [ "$rate" = 0 ] && rate="(run under 1 s, not measured)"
        summary+="$target: ${done_runs:-?} runs, ${rate:-?} exec/s"$'\n'
    fi
    rm -rf "$work"
done
echo "== summary"
printf '%s' "$summary"
exit $failed
