# shellcheck shell=bash
# Helpers every part of the lab uses: logging, timing, polling with a deadline, running a command
# in a namespace, looking at a pid. Sourced by Lab/run-lab.sh; defines functions only.

log() { printf '%s lab: %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
# elapsed A B -> B - A in seconds with 2 decimals
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.1 s until it succeeds; 1 on deadline
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$(($(date +%s%N) + seconds * 1000000000))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            log "timed out after ${seconds}s waiting for: $what"
            return 1
        fi
        sleep 0.1
    done
}

# in_ns NAMESPACE COMMAND...: run COMMAND in the namespace and wait for it
# (processes started in the background use `ip netns exec` directly, never this function, so
#  that $! is the process itself: ip netns exec and env both exec their command)
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
