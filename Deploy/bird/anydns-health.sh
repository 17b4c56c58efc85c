#!/usr/bin/env bash
# Drives BIRD's anycast announcement from anydns's /readyz (the BIRD alternative to ExaBGP's
# healthcheck; see Deploy/bird/bird.conf).
#
# Every INTERVAL seconds it GETs READYZ_URL. After RISE consecutive 200s it runs
# `birdc enable PROTOCOL` (the static protocol holding 10.53.0.1/32, exported to the router);
# after FALL consecutive failures (503 while anydns drains or is unfit, or no answer at all
# because anydns is gone) it runs `birdc disable PROTOCOL`, which withdraws the route.
# On SIGTERM/SIGINT/exit it disables the protocol first: a stopped checker never leaves a
# route announced that nobody watches. It re-asserts the wanted state every REASSERT checks, so
# a restarted BIRD (whose static protocol starts disabled) is brought back in line.
#
# Usage: anydns-health.sh [READYZ_URL [PROTOCOL]]   (arguments win over the environment)
# One instance per route: the DNS address (/readyz, anydns_anycast) and each anycast service
# (Deploy/README.md "Anycast services and members"), e.g.
#   anydns-health.sh http://198.51.100.11:8053/services/www.njust.edu.any/readyz anydns_www
# announces the service's address (the static protocol anydns_www in Deploy/bird/bird.conf) only
# while this site has a reachable member of www.njust.edu.any., independently of the DNS route.
#
# Knobs (environment):
#   READYZ_URL     anydns readiness URL, on the management address   (http://198.51.100.11:8053/readyz)
#   BIRD_SOCKET    birdc control socket                              (/run/bird/bird.ctl)
#   PROTOCOL       static protocol to enable/disable                 (anydns_anycast)
#   INTERVAL       seconds between checks while stable, ≤ 1           (0.5)
#   FAST_INTERVAL  seconds between checks while rising or falling    (0.2)
#   RISE, FALL     consecutive successes/failures before announcing/withdrawing (2, 2)
#   TIMEOUT        seconds a check may take (curl --max-time)        (0.8)
#   REASSERT       re-send the wanted state every N checks           (20)
# Run as a service next to BIRD, e.g. a systemd unit with Restart=always.
set -uo pipefail

if [ $# -gt 2 ] || [[ "${1:-}" == -* ]]; then
    sed -n '2,/^set -uo pipefail$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
fi
READYZ_URL=${1:-${READYZ_URL:-http://198.51.100.11:8053/readyz}}
PROTOCOL=${2:-${PROTOCOL:-anydns_anycast}}
BIRD_SOCKET=${BIRD_SOCKET:-/run/bird/bird.ctl}
INTERVAL=${INTERVAL:-0.5}
FAST_INTERVAL=${FAST_INTERVAL:-0.2}
RISE=${RISE:-2}
FALL=${FALL:-2}
TIMEOUT=${TIMEOUT:-0.8}
REASSERT=${REASSERT:-20}

log() { echo "$(date +%H:%M:%S.%3N) anydns-health[$PROTOCOL]: $*" >&2; }

birdc_do() { # birdc_do enable|disable: tell BIRD; true when BIRD accepted the command
    local out
    out=$(birdc -s "$BIRD_SOCKET" "$1" "$PROTOCOL" 2>&1) || { log "birdc $1 failed: $out"; return 1; }
    case "$out" in
    *"$PROTOCOL: "*) return 0 ;; # "anydns_anycast: enabled" / "disabled" / "already enabled"
    *) log "birdc $1: $out"; return 1 ;;
    esac
}

state=down # BIRD starts the protocol disabled; we only ever announce after RISE successes
sleeper=
stop() {
    trap - EXIT TERM INT
    [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null
    birdc_do disable && log "exiting: route withdrawn"
    exit 0
}
trap stop EXIT TERM INT

ok=0
bad=0
checks=0
log "watching $READYZ_URL, announcing via $PROTOCOL (rise $RISE, fall $FALL, interval ${INTERVAL}s)"
while :; do
    # body and status code; "000" and curl's error when nothing answers (anydns gone)
    answer=$(curl -sS --noproxy '*' --max-time "$TIMEOUT" -w '\n%{http_code}' "$READYZ_URL" 2>&1)
    code=${answer##*$'\n'}
    if [ "$code" = 200 ]; then
        ok=$((ok + 1)); bad=0
    else
        bad=$((bad + 1)); ok=0
        reason="$code $(echo "${answer%$'\n'*}" | head -n 1)"
    fi
    checks=$((checks + 1))
    if [ "$state" != up ] && [ "$ok" -ge "$RISE" ]; then
        birdc_do enable && { state=up; log "ready: route announced"; }
    elif [ "$state" != down ] && [ "$bad" -ge "$FALL" ]; then
        birdc_do disable && { state=down; log "not ready ($reason): route withdrawn"; }
    elif [ $((checks % REASSERT)) -eq 0 ]; then
        if [ "$state" = up ]; then birdc_do enable >/dev/null; else birdc_do disable >/dev/null; fi
    fi
    if { [ "$state" = up ] && [ "$bad" -gt 0 ]; } || { [ "$state" = down ] && [ "$ok" -gt 0 ]; }; then
        sleep "$FAST_INTERVAL" &
    else
        sleep "$INTERVAL" &
    fi
    sleeper=$!
    wait "$sleeper" # in the background so that SIGTERM is handled at once
    sleeper=
done
