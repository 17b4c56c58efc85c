#!/usr/bin/env bash
# Multi-site anycast lab for anydns (see Lab/README.md). Run as root: `make lab`, or
#   ANYDNS_BIN=.build/debug/anydns Lab/run-lab.sh
#
# Builds, with network namespaces and veth pairs only (nothing leaves the machine):
#
#   primary 192.0.2.53 (Knot DNS, hidden: not announced) --- 192.0.2.1 router
#   client 203.0.113.10 --- 203.0.113.1 router (BIRD, AS 65000; kernel table = best route)
#                                        | 198.51.100.1    | .2               | .3
#                                        | (point-to-point veths)
#                        site-a .11       site-b .12        site-c .13       (management addresses)
#                        lo 10.53.0.1     lo 10.53.0.1      lo 10.53.0.1     (the anycast address)
#                        anydns + ExaBGP healthcheck on /readyz, AS 65053, MED 100 / 200 / 300
#
# then runs the scenario against a continuous query stream from the client to 10.53.0.1:
# converge on site A, planned drain of A (no query lost), kill -9 of B (C takes over; gap and
# losses measured), restore A and B, zone change + SIGHUP at every site (new serial everywhere),
# then the hidden primary: every site is a secondary of lab.test. from Knot DNS with TSIG; a
# change on the primary reaches every site by NOTIFY + IXFR (seconds to the last site measured),
# the primary unreachable for a while (the sites keep serving), and site A cut off from the
# primary until lab.test. expires there (A withdraws, 0 queries lost, B and C keep the route);
# and prints a table. Exit status 0 only if every expectation held. Everything it creates is
# removed on exit, whatever happens; running it again right away works.
#
# Environment knobs:
#   ANYDNS_BIN            the anydns binary (default .build/debug/anydns); copied before use
#   LAB_DIR               work directory with configs and logs (default /tmp/anydns-lab); kept
#   LAB_LAME_DUCK         anydns lame-duck seconds (default 5: withdrawal takes ~1 s)
#   LAB_MAX_GAP           kill -9 failover must complete within this many seconds (default 5)
#   LAB_BIRD_SITES        sites that announce with BIRD driven by Deploy/bird/anydns-health.sh
#                         instead of ExaBGP, e.g. "b" or "a b c" (default none: ExaBGP everywhere)
#   LAB_SKIP_INSTALL=1    do not apt-get install missing packages
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DEPLOY=$REPO/Deploy
PY=/usr/bin/python3 # Debian's python3: python3-dnspython and ExaBGP are installed for it
LAB_DIR=${LAB_DIR:-/tmp/anydns-lab}
LAME_DUCK=${LAB_LAME_DUCK:-5}
MAX_GAP=${LAB_MAX_GAP:-5}
BIRD_SITES=" ${LAB_BIRD_SITES:-} "
ANYCAST=10.53.0.1
CLIENT_ADDR=203.0.113.10
CLIENT_GW=203.0.113.1
STREAM_INTERVAL=0.02
STREAM_TIMEOUT=0.3

SITES=(a b c)
NAMESPACES=(router client primary site-a site-b site-c)
PRIMARY=192.0.2.53
PRIMARY_GW=192.0.2.1
COOKIE_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')  # every site's cookies.secret
TSIG_SECRET=K2tf3TRjvQkVCmJF3/Z9vA==
# lab.test.'s SOA timers: refresh 2 s, retry 1 s, expire 12 s, so expiry fits in the lab's time
LAB_REFRESH=2 LAB_RETRY=1 LAB_EXPIRE=12
declare -A MGMT=([a]=198.51.100.11 [b]=198.51.100.12 [c]=198.51.100.13) # site's own address
declare -A RTR=([a]=198.51.100.1 [b]=198.51.100.2 [c]=198.51.100.3)     # router end of its link
declare -A MED=([a]=100 [b]=200 [c]=300)                                # lower MED wins
declare -A ANYDNS_PID=() ANNOUNCER_PIDS=()
OTHER_PIDS=()
STREAM_PID=
STREAM_OUT=$LAB_DIR/client/stream.tsv

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

# ---------------------------------------------------------------- results table
ROWS=()
FAILED=0
# row PHASE EXPECTED OBSERVED SENT LOST GAP RESULT
row() {
    ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"$'\t'"$6"$'\t'"$7")
    [ "$7" = PASS ] || FAILED=1
    log "result: $1 — $3 — $7"
}
print_table() {
    [ ${#ROWS[@]} -gt 0 ] || return 0
    echo
    echo "anydns anycast lab — $(date -u +%Y-%m-%dT%H:%M:%SZ), binary $ANYDNS_SOURCE"
    {
        printf 'phase\texpected\tobserved\tsent\tlost\tgap\tresult\n'
        printf '%s\n' "${ROWS[@]}"
    } | awk -F'\t' -v maxw="18 34 58 5 5 5 6" '
        # word-wrap a cell to width w: fills part[1..n], returns n
        function wrap(text, w, part,    n, words, k, i, line) {
            n = 0; line = ""
            k = split(text, words, " ")
            for (i = 1; i <= k; i++) {
                if (line != "" && length(line) + 1 + length(words[i]) > w) { part[++n] = line; line = words[i] }
                else line = (line == "" ? words[i] : line " " words[i])
            }
            part[++n] = line
            return n
        }
        BEGIN { split(maxw, mw, " ") }
        { for (i = 1; i <= 7; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
        END {
            for (i = 1; i <= 7; i++) if (w[i] > mw[i]) w[i] = mw[i]
            sep = ""
            for (i = 1; i <= 7; i++) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; sep = sep s (i < 7 ? "-+-" : "") }
            for (r = 1; r <= n; r++) {
                lines = 1
                for (i = 1; i <= 7; i++) {
                    delete part
                    c = wrap(cell[r, i], w[i], part)
                    for (j = 1; j <= c; j++) piece[i, j] = part[j]
                    count[i] = c
                    if (c > lines) lines = c
                }
                for (j = 1; j <= lines; j++) {
                    line = ""
                    for (i = 1; i <= 7; i++) line = line sprintf("%-" w[i] "s", (j <= count[i] ? piece[i, j] : "")) (i < 7 ? " | " : "")
                    sub(/ +$/, "", line)
                    print line
                }
                print sep
            }
        }'
    echo "gap = time from the phase's action to the first answer from the expected site"
    echo "logs and configs: $LAB_DIR"
}

# ---------------------------------------------------------------- cleanup
kill_pids() { # TERM the given pids, wait up to 3 s, then KILL what is left
    local pids=() p
    for p in "$@"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=("$p"); done
    [ ${#pids[@]} -gt 0 ] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$(($(date +%s) + 3))
    while [ "$(date +%s)" -le "$deadline" ]; do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}
remove_namespaces() {
    local ns pids
    for ns in "${NAMESPACES[@]}"; do
        ip netns list | awk '{ print $1 }' | grep -qx -- "$ns" || continue
        # only processes left inside the lab's own namespaces (e.g. from an interrupted run)
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            log "namespace $ns: ending leftover processes: $(ps -o pid=,comm= -p "$(echo "$pids" | paste -sd,)" | tr -s ' \n' ' ')"
            # shellcheck disable=SC2086
            kill_pids $pids
        fi
        ip netns del "$ns" 2>/dev/null || true # removes its veths too
    done
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    print_table
    log "cleaning up"
    {
        # anydns would take its lame-duck period over SIGTERM: no need here
        for p in "${ANYDNS_PID[@]}"; do [ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true; done
        kill_pids "$STREAM_PID" "${ANNOUNCER_PIDS[@]}" # announcers first: they withdraw ...
        kill_pids "${OTHER_PIDS[@]}"                    # ... while BIRD still runs
        wait
    } 2>/dev/null
    remove_namespaces
    [ "$FAILED" = 0 ] || [ "$rc" != 0 ] || rc=1
    log "exit $rc"
    exit "$rc"
}

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, BGP port 179, DNS port 53)"

install_packages() {
    local packages=(bird2 exabgp knot iproute2 curl python3-dnspython bind9-dnsutils) missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    [ "${LAB_SKIP_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts bird and exabgp as services on install; the lab runs its own copies.
    for p in bird exabgp knot; do
        if [ -d /run/systemd/system ]; then
            systemctl stop "$p" >/dev/null 2>&1 || true
        elif command -v service >/dev/null 2>&1; then
            service "$p" stop >/dev/null 2>&1 || true
        fi
    done
}
install_packages

ANYDNS_SOURCE=${ANYDNS_BIN:-$REPO/.build/debug/anydns}
rm -rf "$LAB_DIR"
mkdir -p "$LAB_DIR/bin" "$LAB_DIR/router" "$LAB_DIR/client" "$LAB_DIR/primary"
if [ -f "$ANYDNS_SOURCE" ] && [ -x "$ANYDNS_SOURCE" ]; then
    # a private copy: a rebuild during the run must not change the binary under the lab
    install -m 0755 "$ANYDNS_SOURCE" "$LAB_DIR/bin/anydns"
    ANYDNS_CMD=("$LAB_DIR/bin/anydns")
else
    # a command line (e.g. ANYDNS_BIN="valgrind /path/to/anydns")
    read -r -a ANYDNS_CMD <<<"$ANYDNS_SOURCE"
    for i in "${!ANYDNS_CMD[@]}"; do # relative paths still work after the lab's cd
        [[ "${ANYDNS_CMD[$i]}" == /* ]] || [ ! -e "${ANYDNS_CMD[$i]}" ] || ANYDNS_CMD[i]=$PWD/${ANYDNS_CMD[$i]}
    done
    command -v "${ANYDNS_CMD[0]}" >/dev/null || die "ANYDNS_BIN=$ANYDNS_SOURCE: no such executable (build it first)"
fi
"${ANYDNS_CMD[@]}" serve --help 2>&1 | grep -q -- --management ||
    die "$ANYDNS_SOURCE serve --help does not offer --management: too old a binary for the lab"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
remove_namespaces # leftovers of an interrupted earlier run

# ---------------------------------------------------------------- topology
log "building namespaces and veths"
for ns in "${NAMESPACES[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip netns exec router sysctl -qw net.ipv4.ip_forward=1
for s in "${SITES[@]}"; do
    # point-to-point link router r-$s <-> site-$s $s-r, addresses with peer (a /32 on each end)
    ip -n router link add "r-$s" type veth peer name "$s-r" netns "site-$s"
    ip -n router addr add "${RTR[$s]}/32" peer "${MGMT[$s]}/32" dev "r-$s"
    ip -n "site-$s" addr add "${MGMT[$s]}/32" peer "${RTR[$s]}/32" dev "$s-r"
    ip -n router link set "r-$s" up
    ip -n "site-$s" link set "$s-r" up
    ip -n "site-$s" route add default via "${RTR[$s]}" dev "$s-r" # replies to the client
    # the shared anycast address on lo, with the deployment script
    ip netns exec "site-$s" "$DEPLOY/anycast-address.sh" add "$ANYCAST/32" >/dev/null
    ip netns exec "site-$s" "$DEPLOY/anycast-address.sh" status "$ANYCAST/32" >/dev/null
done
ip -n router link add r-cl type veth peer name cl-r netns client
ip -n router addr add "$CLIENT_GW/24" dev r-cl
ip -n client addr add "$CLIENT_ADDR/24" dev cl-r
ip -n router link set r-cl up
ip -n client link set cl-r up
ip -n router link add r-pri type veth peer name pri-r netns primary
ip -n router addr add "$PRIMARY_GW/24" dev r-pri
ip -n primary addr add "$PRIMARY/24" dev pri-r
ip -n router link set r-pri up
ip -n primary link set pri-r up
ip -n primary route add default via "$PRIMARY_GW"
ip -n client route add "$ANYCAST/32" via "$CLIENT_GW"      # the anycast service ...
ip -n client route add 198.51.100.0/24 via "$CLIENT_GW"    # ... and the operator's view of sites

# ---------------------------------------------------------------- configuration and zones
cat >"$LAB_DIR/anydns.yaml" <<EOF
# The one anydns configuration of the lab: every site runs a byte-identical copy of this file
# (only --identity and --management differ). any.zone is relative to the file's directory,
# so each site serves its own copy of the zone, which the reload phase edits.
dns:
  port: 53
  anycast: [$ANYCAST]
management:
  http-port: 8053
keys:
  - name: transfer
    algorithm: hmac-sha256
    secret: $TSIG_SECRET
remotes:
  - name: hidden-primary
    address: [$PRIMARY:53]
    key: transfer
acls:
  - name: primary-notify
    address: [$PRIMARY/32]
    key: transfer
storage: store
cookies:
  secret: $COOKIE_SECRET
zones:
  - origin: any.
    file: any.zone
  - origin: lab.test.
    primaries: [hidden-primary]
    allow-notify: [primary-notify]
lame-duck: $LAME_DUCK
health:
  probe-interval: 0.5
EOF
for s in "${SITES[@]}"; do
    mkdir -p "$LAB_DIR/site-$s"
    cp "$LAB_DIR/anydns.yaml" "$LAB_DIR/site-$s/anydns.yaml"
    cp "$REPO/Zones/any.zone" "$LAB_DIR/site-$s/any.zone"
done

# the hidden primary: Knot DNS serving lab.test. to the sites with TSIG, notifying each of them
lab_zone() { # lab_zone SERIAL: lab.test. with the lab's short SOA timers
    printf '$ORIGIN lab.test.\n$TTL 60\n@ SOA ns1 hostmaster %s %s %s %s 60\n@ NS ns1\nns1 A %s\nwww A 192.0.2.%s\n' \
        "$1" "$LAB_REFRESH" "$LAB_RETRY" "$LAB_EXPIRE" "$PRIMARY" "$(($1 % 250))"
}
lab_zone 1 >"$LAB_DIR/primary/lab.test.zone"
{
    printf 'server:\n  rundir: "%s"\n  listen: %s@53\n  background-workers: 1\n' "$LAB_DIR/primary" "$PRIMARY"
    printf 'key:\n  - id: transfer\n    algorithm: hmac-sha256\n    secret: %s\n' "$TSIG_SECRET"
    printf 'remote:\n'
    for s in "${SITES[@]}"; do printf '  - id: site-%s\n    address: %s@53\n    key: transfer\n' "$s" "${MGMT[$s]}"; done
    printf 'acl:\n  - id: sites\n    address: 198.51.100.0/24\n    key: transfer\n    action: transfer\n'
    printf 'database:\n  storage: "%s"\nlog:\n  - target: stderr\n    any: info\n' "$LAB_DIR/primary"
    printf 'zone:\n  - domain: lab.test.\n    file: "%s"\n    storage: "%s"\n' "$LAB_DIR/primary/lab.test.zone" "$LAB_DIR/primary"
    printf '    zonefile-sync: -1\n    zonefile-load: difference\n    journal-content: changes\n'
    printf '    notify: [site-a, site-b, site-c]\n    acl: [sites]\n'
} >"$LAB_DIR/primary/knot.conf"

# ---------------------------------------------------------------- processes
# (processes started in the background use `ip netns exec` directly, never this function, so
#  that $! is the process itself: ip netns exec and env both exec their command)
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
birdc_router() { in_ns router birdc -s "$LAB_DIR/router/bird.ctl" "$@"; }
readyz() { # readyz SITE -> prints "CODE BODY" (000 when nothing answers)
    in_ns "site-$1" curl -sS --noproxy '*' --max-time 1 -o "$LAB_DIR/site-$1/readyz.body" \
        -w '%{http_code}' "http://${MGMT[$1]}:8053/readyz" 2>/dev/null || true
}
is_ready() { [ "$(readyz "$1")" = 200 ]; }
# ready_or_gone SITE: /readyz 200, or the site's anydns has exited (no point waiting any longer)
ready_or_gone() { is_ready "$1" || ! kill -0 "${ANYDNS_PID[$1]}" 2>/dev/null; }
site_ready() { # site_ready SITE SECONDS: wait for /readyz 200 while anydns runs
    wait_for "$2" "site $1 /readyz 200" ready_or_gone "$1" && is_ready "$1"
}
not_ready() { local c; c=$(readyz "$1"); [ -n "$c" ] && [ "$c" != 200 ]; }
router_has_route_from() { birdc_router show route "$ANYCAST/32" protocol "site_$1" | grep -q "$ANYCAST/32"; }
router_lacks_route_from() { ! birdc_router show route "$ANYCAST/32" protocol "site_$1" | grep -q "$ANYCAST/32"; }
kernel_route_via() { ip -n router route show "$ANYCAST/32" | grep -q "via ${MGMT[$1]} "; }
identity_at() { # identity_at SITE: id.server CH TXT through the site's management address
    in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[$1]}" id.server CH TXT | tr -d '"'
}
serial_at() { in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[$1]}" any. SOA | awk '{ print $3 }'; }
serial_is() { [ "$(serial_at "$1")" = "$2" ]; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }

start_anydns() {
    local s=$1 dir=$LAB_DIR/site-$1
    echo "---- $(date +%T) start" >>"$dir/anydns.log"
    (cd "$dir" && exec ip netns exec "site-$s" "${ANYDNS_CMD[@]}" serve --config "$dir/anydns.yaml" \
        --identity "site-$s" --management "${MGMT[$s]}" --lame-duck "$LAME_DUCK") >>"$dir/anydns.log" 2>&1 &
    ANYDNS_PID[$s]=$!
}

start_exabgp() { # the deployment's ExaBGP config, rendered for this site
    local s=$1 dir=$LAB_DIR/site-$1
    sed -e "s/198\.51\.100\.11/${MGMT[$s]}/g" \
        -e "s/^neighbor 198\.51\.100\.1 /neighbor ${RTR[$s]} /" \
        -e "s/--up-metric 100;/--up-metric ${MED[$s]};/" \
        -e "s/--name anydns /--name anydns-$s --no-syslog /" \
        "$DEPLOY/exabgp/exabgp.conf" >"$dir/exabgp.conf"
    if ! { grep -q "local-address ${MGMT[$s]};" "$dir/exabgp.conf" && grep -q "^neighbor ${RTR[$s]} " "$dir/exabgp.conf" &&
        grep -q -- "--up-metric ${MED[$s]};" "$dir/exabgp.conf" && grep -q -- "--no-syslog" "$dir/exabgp.conf"; }; then
        die "could not render Deploy/exabgp/exabgp.conf for site $s (was it changed?)"
    fi
    # ExaBGP settings by environment: stay in the foreground, log to stdout, no CLI pipes, keep
    # root (the health command runs in the namespace anyway), react fast to the healthcheck
    ip netns exec "site-$s" env exabgp.daemon.daemonize=false exabgp.log.destination=stdout \
        exabgp.api.cli=false exabgp.daemon.user=root exabgp.daemon.drop=false \
        exabgp.log.routes=true exabgp.reactor.speed=0.1 \
        exabgp "$dir/exabgp.conf" >"$dir/exabgp.log" 2>&1 &
    ANNOUNCER_PIDS[$s]=$!
}

start_bird_site() { # the deployment's BIRD config + anydns-health.sh, rendered for this site
    local s=$1 dir=$LAB_DIR/site-$1
    sed -e "s/198\.51\.100\.11/${MGMT[$s]}/g" \
        -e "s/neighbor 198\.51\.100\.1 as/neighbor ${RTR[$s]} as/" \
        -e "s/^define SITE_MED = 100;/define SITE_MED = ${MED[$s]};/" \
        -e "s/^log syslog all;/log stderr all;/" \
        "$DEPLOY/bird/bird.conf" >"$dir/bird.conf"
    if ! { grep -q "neighbor ${RTR[$s]} as" "$dir/bird.conf" && grep -q "SITE_MED = ${MED[$s]};" "$dir/bird.conf"; }; then
        die "could not render Deploy/bird/bird.conf for site $s (was it changed?)"
    fi
    bird -p -c "$dir/bird.conf" || die "BIRD rejects the rendered Deploy/bird/bird.conf"
    ip netns exec "site-$s" bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" >"$dir/bird.log" 2>&1 &
    OTHER_PIDS+=($!)
    wait_for 10 "site $s BIRD control socket" in_ns "site-$s" birdc -s "$dir/bird.ctl" show status ||
        die "site $s BIRD did not start: $(tail -3 "$dir/bird.log")"
    ip netns exec "site-$s" env READYZ_URL="http://${MGMT[$s]}:8053/readyz" BIRD_SOCKET="$dir/bird.ctl" \
        "$DEPLOY/bird/anydns-health.sh" >"$dir/health.log" 2>&1 &
    ANNOUNCER_PIDS[$s]=$!
}

log "starting Knot DNS as the hidden primary ($PRIMARY)"
ip netns exec primary knotd -c "$LAB_DIR/primary/knot.conf" >"$LAB_DIR/primary/knot.log" 2>&1 &
OTHER_PIDS+=($!)
knotc_primary() { in_ns primary knotc -c "$LAB_DIR/primary/knot.conf" "$@"; }
primary_serial() { in_ns primary dig +short +tries=1 +timeout=1 "@$PRIMARY" lab.test. SOA | awk '$3 ~ /^[0-9]+$/ { print $3 }'; }
primary_answers() { [ -n "$(primary_serial)" ]; }
wait_for 15 "Knot answering lab.test." primary_answers || die "Knot did not start: $(tail -5 "$LAB_DIR/primary/knot.log")"

log "starting BIRD in the router"
bird -p -c "$HERE/router-bird.conf" || die "BIRD rejects Lab/router-bird.conf"
ip netns exec router bird -f -c "$HERE/router-bird.conf" -s "$LAB_DIR/router/bird.ctl" -P "$LAB_DIR/router/bird.pid" \
    >"$LAB_DIR/router/bird.log" 2>&1 &
OTHER_PIDS+=($!)
wait_for 10 "router BIRD control socket" birdc_router show status || die "router BIRD did not start"

T_START=$(now)
for s in "${SITES[@]}"; do
    log "site $s: anydns (identity site-$s, management ${MGMT[$s]})"
    start_anydns "$s"
done
for s in "${SITES[@]}"; do
    site_ready "$s" 30 ||
        die "site $s never became ready: $(cat "$LAB_DIR/site-$s/readyz.body" 2>/dev/null); log: $(tail -5 "$LAB_DIR/site-$s/anydns.log")"
    if [[ "$BIRD_SITES" == *" $s "* ]]; then
        log "site $s: BIRD + Deploy/bird/anydns-health.sh (MED ${MED[$s]})"
        start_bird_site "$s"
    else
        log "site $s: ExaBGP healthcheck (MED ${MED[$s]})"
        start_exabgp "$s"
    fi
done

# ---------------------------------------------------------------- phase 0: converge
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    wait_for 30 "router route from site $s" router_has_route_from "$s" || ok=FAIL
done
wait_for 10 "router kernel route via site a" kernel_route_via a || ok=FAIL
T_CONVERGED=$(now)
birdc_router show route "$ANYCAST/32" all >"$LAB_DIR/router/routes-converged.txt" 2>&1 || true
obs+=("$(grep -c 'via 198' "$LAB_DIR/router/routes-converged.txt" || true) routes at the router, kernel via $(ip -n router route show "$ANYCAST/32" | awk '{ print $3 }') $(elapsed "$T_START" "$T_CONVERGED")s after start;")

log "starting the query stream in the client"
ip netns exec client "$PY" "$HERE/query_stream.py" run --out "$STREAM_OUT" --server "$ANYCAST" \
    --interval "$STREAM_INTERVAL" --timeout "$STREAM_TIMEOUT" --max-duration 900 2>"$LAB_DIR/client/stream.log" &
STREAM_PID=$!
T_STREAM=$(now)
stream_wait() { # stream_wait SITE AFTER DEADLINE -> DONE time of the first answer from SITE
    "$PY" "$HERE/query_stream.py" wait --out "$STREAM_OUT" --site "site-$1" --after "$2" --deadline "$3"
}
if t_a=$(stream_wait a "$T_STREAM" 20); then
    obs+=("client answered by site-a")
else
    ok=FAIL
    obs+=("client never reached site-a")
fi
row converge "3 routes, kernel via site A, client answered by site-a" "${obs[*]}" "" "" \
    "$( [ -n "${t_a:-}" ] && elapsed "$T_STREAM" "$t_a" || echo -)" "$ok"
[ "$ok" = PASS ] || die "the lab did not converge; see $LAB_DIR"

# identity through each management address (id.server CH TXT and NSID)
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    id=$(identity_at "$s")
    nsid=$(in_ns client dig +nsid +tries=1 +timeout=1 "@${MGMT[$s]}" any. SOA | sed -n 's/.*NSID: .*("\(.*\)").*/\1/p')
    obs+=("${MGMT[$s]}=$id/nsid:${nsid:-none}")
    [ "$id" = "site-$s" ] && [ "$nsid" = "site-$s" ] || ok=FAIL
done
row identity "id.server and NSID at each management address = its site" "${obs[*]}" "" "" "" "$ok"

# a DNS cookie (RFC 7873) taken from the anycast address, i.e. from site A; shown again to site C
# after the client has moved there (phase 2): every site shares cookies.secret.
COOKIE=$(in_ns client dig +cookie +tries=1 +timeout=1 "@$ANYCAST" any. SOA 2>&1 | sed -n 's/^; COOKIE: \([0-9a-f]*\) (good).*/\1/p' || true)

# a few seconds of steady state
wait_for 10 "steady traffic" bash -c "[ \$(wc -l <'$STREAM_OUT') -ge 150 ]" || true

# ---------------------------------------------------------------- phase 1: planned drain of A
T_DRAIN=$(now)
log "phase drain: SIGTERM to site A's anydns (pid ${ANYDNS_PID[a]})"
kill -TERM "${ANYDNS_PID[a]}"
obs=()
ok=PASS
if wait_for 2 "site a /readyz != 200" not_ready a; then
    obs+=("A /readyz $(readyz a) \"$(head -c 60 "$LAB_DIR/site-a/readyz.body" | tr -d '\n')\" after $(elapsed "$T_DRAIN" "$(now)")s;")
else
    ok=FAIL
    obs+=("A readyz still 200;")
fi
gap=-
if t_b=$(stream_wait b "$T_DRAIN" $((LAME_DUCK + 5))); then
    gap=$(elapsed "$T_DRAIN" "$t_b")
    obs+=("site-b answers after ${gap}s;")
else
    ok=FAIL
    obs+=("client not on site-b;")
fi
# anydns must still answer during lame duck (traffic already in flight towards it)
if alive "${ANYDNS_PID[a]}"; then
    id=$(identity_at a)
    obs+=("A still answers as ${id:-nothing} in lame duck;")
    [ "$id" = site-a ] || ok=FAIL
fi
if wait_for $((LAME_DUCK + 10)) "site a anydns exit" dead "${ANYDNS_PID[a]}"; then
    rc=0
    wait "${ANYDNS_PID[a]}" || rc=$?
    ANYDNS_PID[a]=
    obs+=("A exited $rc $(elapsed "$T_DRAIN" "$(now)")s after SIGTERM;")
    [ "$rc" = 0 ] || ok=FAIL
else
    ok=FAIL
    obs+=("A still running")
fi
wait_for 10 "router route from site a withdrawn" router_lacks_route_from a || { ok=FAIL; obs+=("; A route still at router"); }
wait_for 10 "kernel route via site b" kernel_route_via b || { ok=FAIL; obs+=("; kernel route not via B"); }
DRAIN_OBS="${obs[*]}"
DRAIN_OK=$ok
DRAIN_GAP=$gap

# ---------------------------------------------------------------- phase 2: kill -9 of B
T_KILL=$(now)
log "phase kill: SIGKILL to site B's anydns (pid ${ANYDNS_PID[b]})"
{ kill -KILL "${ANYDNS_PID[b]}"; wait "${ANYDNS_PID[b]}"; } 2>/dev/null || true
ANYDNS_PID[b]=
obs=()
ok=PASS
gap=-
if t_c=$(stream_wait c "$T_KILL" 30); then
    gap=$(elapsed "$T_KILL" "$t_c")
    obs+=("site-c answers after ${gap}s;")
    le "$gap" "$MAX_GAP" || ok=FAIL
else
    ok=FAIL
    obs+=("client not on site-c")
fi
wait_for 10 "router route from site b withdrawn" router_lacks_route_from b || { ok=FAIL; obs+=("; B route still at router"); }
wait_for 10 "kernel route via site c" kernel_route_via c || { ok=FAIL; obs+=("; kernel route not via C"); }
wait_for 5 "a second of traffic on site c" stream_wait c "$(awk -v t="$t_c" 'BEGIN { printf "%.6f", t + 1 }')" 5 || true
KILL_OBS="${obs[*]}"
KILL_OK=$ok
KILL_GAP=$gap

valid_cookies() { # valid_cookies SITE: anydns_cookies_total{state="valid"} at the site
    in_ns client curl -sS --max-time 2 "http://${MGMT[$1]}:8053/metrics" |
        awk '/^anydns_cookies_total\{state="valid"\}/ { print $2 }' || true
}
before=$(valid_cookies c)
reply=$(in_ns client dig "+cookie=$COOKIE" +nsid +tries=1 +timeout=1 "@$ANYCAST" any. SOA 2>&1 || true)
after=$(valid_cookies c)
nsid=$(sed -n 's/.*NSID: .*("\(.*\)").*/\1/p' <<<"$reply")
ok=PASS
[ ${#COOKIE} -eq 48 ] && [ "$nsid" = site-c ] && awk -v a="${after:-0}" -v b="${before:-0}" 'BEGIN { exit !(a == b + 1) }' ||
    ok=FAIL
row cookie "a cookie from site A is valid at site C (shared secret)" \
    "cookie ${COOKIE:0:16}… from A; answered by ${nsid:-nothing}; C's valid cookies ${before:-?} -> ${after:-?}" "" "" "" "$ok"

# ---------------------------------------------------------------- phase 3: restore A and B
T_RESTORE=$(now)
log "phase restore: restarting anydns at sites A and B"
start_anydns a
start_anydns b
obs=()
ok=PASS
for s in a b; do
    site_ready "$s" 30 || { ok=FAIL; obs+=("site $s not ready;"); }
    wait_for 30 "router route from site $s" router_has_route_from "$s" || { ok=FAIL; obs+=("no route from $s;"); }
done
gap=-
if t_a=$(stream_wait a "$T_RESTORE" 30); then
    gap=$(elapsed "$T_RESTORE" "$t_a")
    obs+=("A and B ready and announced; site-a answers again after ${gap}s;")
else
    ok=FAIL
    obs+=("client not back on site-a")
fi
wait_for 10 "kernel route via site a" kernel_route_via a || { ok=FAIL; obs+=("; kernel route not via A"); }
RESTORE_OBS="${obs[*]}"
RESTORE_OK=$ok
RESTORE_GAP=$gap

# ---------------------------------------------------------------- phase 4: zone change + SIGHUP
old=$(awk '/; serial/ { print $1; exit }' "$LAB_DIR/site-a/any.zone")
new=$((old + 1))
T_RELOAD=$(now)
log "phase reload: serial $old -> $new in every site's any.zone, SIGHUP to every anydns"
for s in "${SITES[@]}"; do
    sed -i "s/^\( *\)$old\( *; serial\)/\1$new\2/" "$LAB_DIR/site-$s/any.zone"
    grep -q "$new *; serial" "$LAB_DIR/site-$s/any.zone" || die "could not bump the serial in site $s's zone"
    kill -HUP "${ANYDNS_PID[$s]}"
done
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    if wait_for 15 "site $s serving serial $new" serial_is "$s" "$new"; then
        obs+=("site-$s serves $new after $(elapsed "$T_RELOAD" "$(now)")s;")
    else
        ok=FAIL
        obs+=("$s:$(serial_at "$s")")
    fi
    is_ready "$s" || { ok=FAIL; obs+=("($s not ready)"); }
done
# one more second of traffic after the last site switched, so the window covers the reload
T_AFTER=$(awk -v t="$(now)" 'BEGIN { printf "%.6f", t + 1 }')
stream_wait a "$T_AFTER" 10 >/dev/null || { ok=FAIL; obs+=("client left site-a"); }
for s in "${SITES[@]}"; do # for the record: what each site's management HTTP says now
    for path in health metrics; do
        in_ns client curl -sS --max-time 2 "http://${MGMT[$s]}:8053/$path" >"$LAB_DIR/site-$s/$path.txt" 2>&1 || true
    done
done
RELOAD_OBS="${obs[*]}"
RELOAD_OK=$ok

# ---------------------------------------------------------------- phase 5: change on the primary
lab_serial_at() { in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[$1]}" lab.test. SOA | awk '$3 ~ /^[0-9]+$/ { print $3 }'; }
lab_serial_is() { [ "$(lab_serial_at "$1")" = "$2" ]; }
zone_line() { in_ns client curl -sS --max-time 1 "http://${MGMT[$1]}:8053/zones/lab.test." 2>/dev/null || true; }
refresh_failing() { zone_line "$1" | grep -q "last: .*\(no answer\|connect\|refused\|timed out\|closed\|unreachable\)"; }
refresh_ok() { zone_line "$1" | grep -q "last: \(up to date\|transferred\)"; }
primary_changed() { [ "$(primary_serial)" != "$1" ]; }
obs=()
ok=PASS
base=$(primary_serial)
for s in "${SITES[@]}"; do
    wait_for 15 "site $s serving lab.test. $base" lab_serial_is "$s" "$base" || { ok=FAIL; obs+=("$s never transferred lab.test.;"); }
done
T_PRIMARY=$(now)
log "phase primary: lab.test. changed on Knot ($base -> $((base + 1))), knotc zone-reload; NOTIFY to every site"
lab_zone "$((base + 1))" >"$LAB_DIR/primary/lab.test.zone"
knotc_primary zone-reload lab.test. >/dev/null || { ok=FAIL; obs+=("knotc zone-reload failed;"); }
wait_for 10 "Knot serving the new serial" primary_changed "$base" || { ok=FAIL; obs+=("Knot kept $base;"); }
new=$(primary_serial)
last=-
for s in "${SITES[@]}"; do
    if wait_for 15 "site $s serving lab.test. $new" lab_serial_is "$s" "$new"; then
        last=$(elapsed "$T_PRIMARY" "$(now)")
        obs+=("site-$s serves $new after ${last}s;")
    else
        ok=FAIL
        obs+=("$s:$(lab_serial_at "$s");")
    fi
done
ixfr=$(in_ns client curl -sS --max-time 2 "http://${MGMT[a]}:8053/metrics" | awk '/^anydns_transfers_total\{direction="in",type="IXFR",result="ok"\}/ { print $2 }')
obs+=("IXFRs in at A: ${ixfr:-0}")
PRIMARY_OBS="${obs[*]}"
PRIMARY_OK=$ok
PRIMARY_GAP=$last

# ---------------------------------------------------------------- phase 6: primary unreachable
T_CUT=$(now)
log "phase primary down: the primary's link is down for less than EXPIRE (${LAB_EXPIRE} s)"
ip -n primary link set pri-r down
obs=()
ok=PASS
for s in "${SITES[@]}"; do
    wait_for 8 "site $s failing to refresh" refresh_failing "$s" || { ok=FAIL; obs+=("$s: $(zone_line "$s");"); }
done
for s in "${SITES[@]}"; do
    if lab_serial_is "$s" "$new" && is_ready "$s"; then obs+=("site-$s serves $new, ready;"); else
        ok=FAIL
        obs+=("site-$s stopped serving;")
    fi
done
ip -n primary link set pri-r up
ip -n primary route replace default via "$PRIMARY_GW"
for s in "${SITES[@]}"; do
    wait_for 10 "site $s refreshing again" refresh_ok "$s" || { ok=FAIL; obs+=("$s did not recover;"); }
done
obs+=("link down $(elapsed "$T_CUT" "$(now)")s in all")
CUT_OBS="${obs[*]}"
CUT_OK=$ok

# ---------------------------------------------------------------- phase 7: expiry at site A only
T_EXPIRE=$(now)
log "phase expiry: site A cut off from the primary until lab.test. expires there (${LAB_EXPIRE} s)"
ip -n primary route add blackhole "${MGMT[a]}/32"
obs=()
ok=PASS
gap=-
if wait_for $((LAB_EXPIRE + 10)) "site a /readyz != 200 (zone expired)" not_ready a; then
    obs+=("A /readyz $(readyz a) \"$(head -c 70 "$LAB_DIR/site-a/readyz.body" | tr -d '\n')\" after $(elapsed "$T_EXPIRE" "$(now)")s;")
    grep -q "lab.test. expired" "$LAB_DIR/site-a/readyz.body" || ok=FAIL
else
    ok=FAIL
    obs+=("A never withdrew;")
fi
if t_b=$(stream_wait b "$T_EXPIRE" $((LAB_EXPIRE + 15))); then
    gap=$(elapsed "$T_EXPIRE" "$t_b")
    obs+=("client -> site-b after ${gap}s;")
else
    ok=FAIL
    obs+=("client not on site-b;")
fi
wait_for 10 "router route from site a withdrawn" router_lacks_route_from a || { ok=FAIL; obs+=("A route still at router;"); }
for s in b c; do
    if router_has_route_from "$s" && is_ready "$s"; then :; else
        ok=FAIL
        obs+=("$s lost its route;")
    fi
done
servfail=$(in_ns client dig +tries=1 +timeout=1 "@${MGMT[a]}" lab.test. SOA | grep -c "status: SERVFAIL" || true)
obs+=("A answers lab.test. SERVFAIL: $([ "$servfail" = 1 ] && echo yes || echo no);")
[ "$servfail" = 1 ] || ok=FAIL
T_HEAL=$(now)
ip -n primary route del blackhole "${MGMT[a]}/32"
if site_ready a 20 && wait_for 20 "router route from site a" router_has_route_from a; then
    obs+=("reconnected: A ready and announced again after $(elapsed "$T_HEAL" "$(now)")s")
else
    ok=FAIL
    obs+=("A did not come back")
fi
EXPIRE_OBS="${obs[*]}"
EXPIRE_OK=$ok
EXPIRE_GAP=$gap

# ---------------------------------------------------------------- the stream's verdict
T_END=$(now)
kill -TERM "$STREAM_PID"
wait "$STREAM_PID" || true
STREAM_PID=
window() { "$PY" "$HERE/query_stream.py" window --out "$STREAM_OUT" --from "$1" --to "$2"; }
# phase_row NAME EXPECTED OBS OK GAP FROM TO LOST_MUST_BE_ZERO
phase_row() {
    local sent lost answered sites max_silence text ok=$4
    eval "$(window "$6" "$7")"
    sites=${sites//,/, }
    text="$3 answered by ${sites//:/ }; longest silence ${max_silence}s"
    : "$answered"
    if [ "$8" = yes ] && [ "$lost" != 0 ]; then ok=FAIL; fi
    row "$1" "$2" "$text" "$sent" "$lost" "$5" "$ok"
}
phase_row steady "site-a answers, 0 lost" "" PASS - "$T_STREAM" "$T_DRAIN" yes
phase_row "drain A (SIGTERM)" "readyz 503 at once, client -> site-b, 0 lost, A exits 0 after lame duck" \
    "$DRAIN_OBS" "$DRAIN_OK" "$DRAIN_GAP" "$T_DRAIN" "$T_KILL" yes
phase_row "kill -9 B" "client -> site-c within ${MAX_GAP}s (some loss expected)" \
    "$KILL_OBS" "$KILL_OK" "$KILL_GAP" "$T_KILL" "$T_RESTORE" no
phase_row "restore A, B" "both ready again, client back on site-a, 0 lost" \
    "$RESTORE_OBS" "$RESTORE_OK" "$RESTORE_GAP" "$T_RESTORE" "$T_RELOAD" yes
phase_row "reload (SIGHUP)" "every site serves the new any. serial via its management address, 0 lost" \
    "$RELOAD_OBS" "$RELOAD_OK" - "$T_RELOAD" "$T_PRIMARY" yes
phase_row "change on the primary" "Knot NOTIFY -> every site serves the new lab.test. serial by IXFR, 0 lost" \
    "$PRIMARY_OBS" "$PRIMARY_OK" "$PRIMARY_GAP" "$T_PRIMARY" "$T_CUT" yes
phase_row "primary unreachable" "sites notice, keep serving lab.test. and stay ready (< EXPIRE), 0 lost" \
    "$CUT_OBS" "$CUT_OK" - "$T_CUT" "$T_EXPIRE" yes
phase_row "lab.test. expires at A" "A: SERVFAIL, /readyz 503, withdrawn; client -> site-b, 0 lost; B, C keep routes" \
    "$EXPIRE_OBS" "$EXPIRE_OK" "$EXPIRE_GAP" "$T_EXPIRE" "$T_END" yes
eval "$(window "$T_STREAM" "$T_END")"
sites=${sites//,/, }
row total "whole stream" "answered by ${sites//:/ }" "$sent" "$lost" "" PASS
if [ "$FAILED" = 0 ]; then log "all expectations held"; else log "some expectations failed"; fi
