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
#                        |  \                |  \
#                 mem-a1 10.80.1.1  mem-a2 .2   mem-b1 10.80.2.1  mem-b2 .2         (member hosts)
#
# plus the anycast service www.njust.edu.any. (Deploy/README.md "Anycast services and members"):
# its own anycast address 10.53.0.80 on every member's lo, a web server on port 80 in each member,
# two members behind site A and two behind site B, each running Deploy/anydns-member-agent.sh
# against its own site's anydns (join, session reports, leave); every site's ExaBGP announces
# 10.53.0.80/32 only while that site's /services/www.njust.edu.any/readyz is 200.
#
# then runs the scenario against a continuous query stream from the client to 10.53.0.1:
# converge on site A, planned drain of A (no query lost), kill -9 of B (C takes over; gap and
# losses measured), restore A and B, zone change + SIGHUP at every site (new serial everywhere),
# then the hidden primary: every site is a secondary of lab.test. from Knot DNS with TSIG; a
# change on the primary reaches every site by NOTIFY + IXFR (seconds to the last site measured),
# the primary unreachable for a while (the sites keep serving), and site A cut off from the
# primary until lab.test. expires there (A withdraws, 0 queries lost, B and C keep the route);
# then the members: they join (A and B announce 10.53.0.80/32, C does not), least-sessions
# answers follow the session counts the agents report (counts changed by holding TCP sessions
# from the client), every member of A leaves (A withdraws 10.53.0.80/32 but keeps 10.53.0.1/32;
# the time from the last leave to the withdrawal is measured; the client's connections to
# 10.53.0.80 reach B's members), and one member of A joins again (A announced again);
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
NAMESPACES=(router client primary site-a site-b site-c mem-a1 mem-a2 mem-b1 mem-b2)
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
# The anycast service and its members (Deploy/README.md "Anycast services and members")
SERVICE=www.njust.edu.any.
SERVICE_ANYCAST=10.53.0.80 # in Zones/any.zone too: the answer when a site has no reachable member
SERVICE_PORT=80            # the members' web servers; anydns probes it (probe: tcp:80)
MEMBER_KEY_NAME=www-members # the service's TSIG key (RFC 8945) for the members' updates
MEMBER_KEY_SECRET=$(head -c 32 /dev/urandom | base64)
MEMBER_INTERVAL=1 # seconds between an agent's reports
MEMBER_LEASE=5    # seconds without a report before anydns drops a member
MEMBERS=(a1 a2 b1 b2)
declare -A MEMBER_SITE=([a1]=a [a2]=a [b1]=b [b2]=b)
declare -A MEMBER_ADDR=([a1]=10.80.1.1 [a2]=10.80.1.2 [b1]=10.80.2.1 [b2]=10.80.2.2)
declare -A MEMBER_GW=([a1]=10.80.1.101 [a2]=10.80.1.102 [b1]=10.80.2.101 [b2]=10.80.2.102) # site end
declare -A MEMBER_NET=([a]=10.80.1.0/24 [b]=10.80.2.0/24)                                  # per site
declare -A AGENT_PID=()
HOLD_PIDS=() # the client's idle TCP sessions to members
MEMBERS_SHOWN=
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
    echo "      member phases: least-sessions = from the change of counts to the new answer; members leave ="
    echo "      from the last leave to the router's withdrawal of $SERVICE_ANYCAST/32; rejoin = from the agent's"
    echo "      start to the route; a member dies = from the kill to the member's removal"
    [ -z "$MEMBERS_SHOWN" ] || printf '\n%s\n' "$MEMBERS_SHOWN"
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
        # agents first, while anydns still answers their leave (bounded by their -T 2)
        kill_pids "${AGENT_PID[@]}" "${HOLD_PIDS[@]}"
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
"${ANYDNS_CMD[@]}" members --help >/dev/null 2>&1 ||
    die "$ANYDNS_SOURCE has no 'members' command: too old a binary for the lab (anycast services, issue 13)"

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
ip -n client route add "$SERVICE_ANYCAST/32" via "$CLIENT_GW" # the anycast web service ...
ip -n client route add 10.80.0.0/16 via "$CLIENT_GW"          # ... and its members' unicast addresses

# member hosts of the anycast service, each behind its site on a point-to-point link like the
# sites' own (site end MEMBER_GW, member end MEMBER_ADDR), with the service's anycast address on
# lo (Deploy/anycast-address.sh, as at the sites). A site forwards 10.53.0.80 to its members
# (a multipath route, hashed per flow), and the router reaches members' unicast addresses through
# their site (static routes: only the anycast addresses are learnt by BGP).
for s in a b; do ip netns exec "site-$s" sysctl -qw net.ipv4.ip_forward=1; done
for m in "${MEMBERS[@]}"; do
    s=${MEMBER_SITE[$m]}
    ip -n "site-$s" link add "s-$m" type veth peer name "$m-s" netns "mem-$m"
    ip -n "site-$s" addr add "${MEMBER_GW[$m]}/32" peer "${MEMBER_ADDR[$m]}/32" dev "s-$m"
    ip -n "mem-$m" addr add "${MEMBER_ADDR[$m]}/32" peer "${MEMBER_GW[$m]}/32" dev "$m-s"
    ip -n "site-$s" link set "s-$m" up
    ip -n "mem-$m" link set "$m-s" up
    ip -n "mem-$m" route add default via "${MEMBER_GW[$m]}" dev "$m-s"
    ip netns exec "mem-$m" "$DEPLOY/anycast-address.sh" add "$SERVICE_ANYCAST/32" >/dev/null
done
for s in a b; do
    hops=()
    for m in "${MEMBERS[@]}"; do
        [ "${MEMBER_SITE[$m]}" = "$s" ] && hops+=(nexthop via "${MEMBER_ADDR[$m]}" dev "s-$m")
    done
    ip -n "site-$s" route add "$SERVICE_ANYCAST/32" "${hops[@]}"
    ip -n router route add "${MEMBER_NET[$s]}" via "${MGMT[$s]}" dev "r-$s"
done

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
  - name: $MEMBER_KEY_NAME # members of $SERVICE sign their updates with it
    algorithm: hmac-sha256
    secret: $MEMBER_KEY_SECRET
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
# The anycast service of the member phases: members behind sites A and B join with
# Deploy/anydns-member-agent.sh; site C has none and never announces $SERVICE_ANYCAST.
services:
  - name: $SERVICE
    anycast: [$SERVICE_ANYCAST]
    keys: [$MEMBER_KEY_NAME]
    policy: least-sessions
    probe: tcp:$SERVICE_PORT
    lease: $MEMBER_LEASE
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
        -e "s/--name \(anydns[a-z-]*\) /--name \1-$s --no-syslog /" \
        "$DEPLOY/exabgp/exabgp.conf" >"$dir/exabgp.conf"
    # both healthchecks: the DNS address on /readyz, the service's on /services/NAME/readyz
    if ! { grep -q "local-address ${MGMT[$s]};" "$dir/exabgp.conf" && grep -q "^neighbor ${RTR[$s]} " "$dir/exabgp.conf" &&
        [ "$(grep -c -- "--up-metric ${MED[$s]};" "$dir/exabgp.conf")" = 2 ] &&
        [ "$(grep -c -- "--name anydns[a-z-]*-$s --no-syslog " "$dir/exabgp.conf")" = 2 ] &&
        grep -q "http://${MGMT[$s]}:8053/services/${SERVICE%.}/readyz.* --ip $SERVICE_ANYCAST/32 " "$dir/exabgp.conf"; }; then
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
    if ! { grep -q "neighbor ${RTR[$s]} as" "$dir/bird.conf" && grep -q "SITE_MED = ${MED[$s]};" "$dir/bird.conf" &&
        grep -q "route $SERVICE_ANYCAST/32 via" "$dir/bird.conf"; }; then
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
    # the anycast service: a second checker, URL and protocol as arguments
    ip netns exec "site-$s" env BIRD_SOCKET="$dir/bird.ctl" "$DEPLOY/bird/anydns-health.sh" \
        "http://${MGMT[$s]}:8053/services/${SERVICE%.}/readyz" anydns_www >"$dir/health-www.log" 2>&1 &
    ANNOUNCER_PIDS[$s-www]=$!
}

# ---- the anycast service's members
start_member_web() { # the member's service: a web server on port 80 saying which member it is
    local m=$1 dir=$LAB_DIR/mem-$1
    mkdir -p "$dir/www"
    echo "member $m ${MEMBER_ADDR[$m]} behind site-${MEMBER_SITE[$m]}" >"$dir/www/index.html"
    ip netns exec "mem-$m" "$PY" -m http.server "$SERVICE_PORT" --bind 0.0.0.0 --directory "$dir/www" \
        >"$dir/web.log" 2>&1 &
    OTHER_PIDS+=($!)
}
web_listening() { in_ns "mem-$1" ss -Htln "( sport = :$SERVICE_PORT )" | grep -q .; }
start_agent() { # Deploy/anydns-member-agent.sh in the member, against its own site's anydns
    local m=$1 s=${MEMBER_SITE[$1]}
    ip netns exec "mem-$m" env MEMBER_KEY="hmac-sha256:$MEMBER_KEY_NAME:$MEMBER_KEY_SECRET" \
        "$DEPLOY/anydns-member-agent.sh" --server "${MGMT[$s]}" --port 53 --service "$SERVICE" \
        --member "$m" --address "${MEMBER_ADDR[$m]}" --local-port "$SERVICE_PORT" \
        --interval "$MEMBER_INTERVAL" --timeout 2 >>"$LAB_DIR/mem-$m/agent.log" 2>&1 &
    AGENT_PID[$m]=$!
}
stop_agent() { # stop_agent MEMBER: SIGTERM (the agent leaves), wait; its exit status
    local m=$1 rc=0
    kill -TERM "${AGENT_PID[$m]}"
    wait "${AGENT_PID[$m]}" || rc=$?
    AGENT_PID[$m]=
    return "$rc"
}
# hold_sessions ADDR COUNT: COUNT idle TCP sessions from the client to ADDR:80 until killed; the
# member's agent counts them (ss, established, local port 80) and reports them to its site
hold_sessions() {
    ip netns exec client "$PY" -c '
import signal, socket, sys
address, count, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = [socket.create_connection((address, port), timeout=2) for _ in range(count)]
print("holding", count, "sessions to", address, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.pause()' "$1" "$2" "$SERVICE_PORT" >>"$LAB_DIR/client/sessions.log" 2>&1 &
    HOLD_PIDS+=($!)
}
member_txt() { # member_txt MEMBER: the TXT of M._members.S at its site ("sessions=N" "reachable=yes")
    in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[${MEMBER_SITE[$1]}]}" "$1._members.$SERVICE" TXT | tr '\n' ' '
}
member_joined() { in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[${MEMBER_SITE[$1]}]}" "$1._members.$SERVICE" A | grep -qx "${MEMBER_ADDR[$1]}"; }
member_gone() { # no A left for M._members.S at its site (and the server answered)
    local out
    out=$(in_ns client dig +tries=1 +timeout=1 "@${MGMT[${MEMBER_SITE[$1]}]}" "$1._members.$SERVICE" A) || return 1
    grep -q "status: NOERROR\|status: NXDOMAIN" <<<"$out" && ! grep -q "^$1._members.*[[:space:]]A[[:space:]]" <<<"$out"
}
member_sessions_are() { member_txt "$1" | grep -q "\"sessions=$2\""; }
member_reachable() { member_txt "$1" | grep -q '"reachable=yes"'; }
service_at() { # service_at SITE: the A answers for the service at the site's management address
    in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[$1]}" "$SERVICE" A | paste -sd' '
}
# answers_are SITE ADDR [N]: N (5) queries at SITE all answer exactly ADDR
answers_are() {
    local i
    for ((i = 0; i < ${3:-5}; i++)); do [ "$(service_at "$1")" = "$2" ] || return 1; done
}
member_of() { # member_of ADDR: the member whose unicast address is ADDR (or ADDR)
    local m
    for m in "${MEMBERS[@]}"; do [ "${MEMBER_ADDR[$m]}" = "$1" ] && { echo "$m"; return; }; done
    echo "$1"
}
service_readyz() { # service_readyz SITE -> HTTP code of /services/NAME/readyz (body in a file)
    in_ns "site-$1" curl -sS --noproxy '*' --max-time 1 -o "$LAB_DIR/site-$1/service-readyz.body" \
        -w '%{http_code}' "http://${MGMT[$1]}:8053/services/${SERVICE%.}/readyz" 2>/dev/null || true
}
service_ready() { [ "$(service_readyz "$1")" = 200 ]; }
service_not_ready() { local c; c=$(service_readyz "$1"); [ -n "$c" ] && [ "$c" != 200 ]; }
route_from() { birdc_router show route "$1/32" protocol "site_$2" | grep -q "$1/32"; }  # route_from PREFIX SITE
no_route_from() { ! birdc_router show route "$1/32" protocol "site_$2" | grep -q "$1/32"; }
service_kernel_via() { ip -n router route show "$SERVICE_ANYCAST/32" | grep -q "via ${MGMT[$1]} "; }
routes_of() { # routes_of PREFIX: the sites the router has PREFIX from, e.g. "A B C"
    birdc_router show route "$1/32" | grep -o '\[site_[a-c] ' | cut -c7 | tr '[:lower:]' '[:upper:]' | sort | paste -sd' '
}
web_get() { # web_get ADDR: the body of http://ADDR/ from the client ("member b1 ..."), first line
    in_ns client curl -sS --noproxy '*' --max-time 1 "http://$1:$SERVICE_PORT/" 2>/dev/null | head -n 1
}
web_lands_on_site() { web_get "$SERVICE_ANYCAST" | grep -q "behind site-$1\$"; }
# bird_event_after T PATTERN: epoch time of the router's first BIRD log line after T matching PATTERN
bird_event_after() {
    local line stamp t
    while IFS= read -r line; do
        stamp=${line:0:23}
        t=$(date -d "$stamp" +%s.%N 2>/dev/null) || continue
        if le "$1" "$t"; then echo "$t"; return 0; fi
    done < <(grep -- "$2" "$LAB_DIR/router/bird.log")
    return 1
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

log "starting the members' web servers (port $SERVICE_PORT; their agents start in the member phases)"
for m in "${MEMBERS[@]}"; do start_member_web "$m"; done
for m in "${MEMBERS[@]}"; do
    wait_for 10 "member $m web server listening" web_listening "$m" || die "member $m's web server did not start: $(tail -3 "$LAB_DIR/mem-$m/web.log")"
done

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

# ---------------------------------------------------------------- phase 8: the members join
# Deploy/anydns-member-agent.sh in every member host, against its own site's anydns: A and B
# get two members each and announce the service's address; C has none and does not.
T_JOIN=$(now)
log "phase members join: agents for ${MEMBERS[*]} (service $SERVICE, report every ${MEMBER_INTERVAL}s)"
for m in "${MEMBERS[@]}"; do start_agent "$m"; done
obs=()
ok=PASS
for m in "${MEMBERS[@]}"; do
    wait_for 10 "member $m in site ${MEMBER_SITE[$m]}'s table" member_joined "$m" || { ok=FAIL; obs+=("$m never joined: $(tail -1 "$LAB_DIR/mem-$m/agent.log");"); }
done
obs+=("a1 a2 in A's table, b1 b2 in B's after $(elapsed "$T_JOIN" "$(now)")s;")
for m in "${MEMBERS[@]}"; do
    wait_for 10 "member $m reachable (probe tcp:$SERVICE_PORT)" member_reachable "$m" || { ok=FAIL; obs+=("$m not reachable: $(member_txt "$m");"); }
done
for s in a b; do
    wait_for 10 "router route $SERVICE_ANYCAST/32 from site $s" route_from "$SERVICE_ANYCAST" "$s" || { ok=FAIL; obs+=("no $SERVICE_ANYCAST from $s;"); }
done
wait_for 10 "kernel route for $SERVICE_ANYCAST via site a" service_kernel_via a || { ok=FAIL; obs+=("kernel $SERVICE_ANYCAST not via A;"); }
obs+=("$SERVICE_ANYCAST/32 from $(routes_of "$SERVICE_ANYCAST") at the router after $(elapsed "$T_JOIN" "$(now)")s, kernel via A;")
c_code=$(service_readyz c)
obs+=("/services/${SERVICE%.}/readyz A $(service_readyz a), B $(service_readyz b), C $c_code;")
if [ "$c_code" != 503 ] || ! no_route_from "$SERVICE_ANYCAST" c; then ok=FAIL; obs+=("C announces $SERVICE_ANYCAST;"); fi
wait_for 5 "GET http://$SERVICE_ANYCAST/ landing on site A's members" web_lands_on_site a || ok=FAIL
obs+=("GET http://$SERVICE_ANYCAST/ from the client: \"$(web_get "$SERVICE_ANYCAST")\";")
JOIN_OBS="${obs[*]}"
JOIN_OK=$ok

# ---------------------------------------------------------------- phase 9: least-sessions answers
# The client holds idle TCP sessions to members' unicast addresses; each agent counts them with
# ss and reports them; the site answers $SERVICE with its member of fewest sessions (TTL 5).
T_LEAST=$(now)
obs=()
ok=PASS
for m in "${MEMBERS[@]}"; do
    wait_for 5 "member $m reporting sessions=0" member_sessions_are "$m" 0 || { ok=FAIL; obs+=("$m: $(member_txt "$m");"); }
done
# a tie (0 and 0): the answers should spread over both of A's members
declare -A seen=()
for ((i = 0; i < 20; i++)); do
    answer=$(service_at a)
    answer=${answer:-none}
    seen[$answer]=$((${seen[$answer]:-0} + 1))
done
tie=()
for answer in "${!seen[@]}"; do tie+=("$(member_of "$answer") ${seen[$answer]}"); done
obs+=("all at 0 sessions: A answered $(printf '%s\n' "${tie[@]}" | sort | paste -sd, | sed 's/,/, /g') of 20;")
[ "${seen[${MEMBER_ADDR[a1]}]:-0}" -gt 0 ] && [ "${seen[${MEMBER_ADDR[a2]}]:-0}" -gt 0 ] || ok=FAIL
log "phase least-sessions: the client holds 3 sessions to a1, 1 to a2, 2 to b1, none to b2"
hold_sessions "${MEMBER_ADDR[a1]}" 3
hold_sessions "${MEMBER_ADDR[a2]}" 1
hold_sessions "${MEMBER_ADDR[b1]}" 2
for spec in a1:3 a2:1 b1:2 b2:0; do
    wait_for 10 "member ${spec%:*} reporting sessions=${spec#*:}" member_sessions_are "${spec%:*}" "${spec#*:}" ||
        { ok=FAIL; obs+=("${spec%:*}: $(member_txt "${spec%:*}");"); }
done
if wait_for 5 "A answering a2" answers_are a "${MEMBER_ADDR[a2]}" && wait_for 5 "B answering b2" answers_are b "${MEMBER_ADDR[b2]}"; then
    obs+=("a1=3 a2=1 -> A answers a2 (5 of 5), b1=2 b2=0 -> B answers b2 (5 of 5);")
else
    ok=FAIL
    obs+=("a1=3 a2=1: A answers $(service_at a), b1=2 b2=0: B answers $(service_at b);")
fi
T_CHANGE=$(now)
log "phase least-sessions: 4 more sessions to a2 (a2=5, a1=3)"
hold_sessions "${MEMBER_ADDR[a2]}" 4
gap=-
if wait_for 10 "A answering a1" answers_are a "${MEMBER_ADDR[a1]}"; then
    gap=$(elapsed "$T_CHANGE" "$(now)")
    obs+=("+4 sessions to a2 -> a2 $(member_txt a2 | awk '{ print $1 }' | tr -d '"') -> A answers a1 (5 of 5) ${gap}s after the change;")
else
    ok=FAIL
    obs+=("+4 to a2: a2 $(member_txt a2), A answers $(service_at a);")
fi
wait_for 5 "member a2 reporting sessions=5" member_sessions_are a2 5 || ok=FAIL
for s in a b; do # what the operator sees (after the table)
    MEMBERS_SHOWN+="site $s: anydns members $SERVICE --management ${MGMT[$s]}:8053"$'\n'
    MEMBERS_SHOWN+="$(in_ns "site-$s" "${ANYDNS_CMD[@]}" members "$SERVICE" --management "${MGMT[$s]}:8053" 2>&1)"$'\n'
    in_ns client curl -sS --max-time 2 "http://${MGMT[$s]}:8053/services" >"$LAB_DIR/site-$s/services.json" 2>&1 || true
    in_ns client curl -sS --max-time 2 "http://${MGMT[$s]}:8053/metrics" >"$LAB_DIR/site-$s/metrics-members.txt" 2>&1 || true
done
LEAST_OBS="${obs[*]}"
LEAST_OK=$ok
LEAST_GAP=$gap

# ---------------------------------------------------------------- phase 10: every member of A leaves
# SIGTERM to a1's and a2's agents: each leaves (update delete M._members.S) and exits. A's
# /services/NAME/readyz turns 503, its ExaBGP withdraws 10.53.0.80/32 (not 10.53.0.1/32), the router
# sends the service's traffic to B; A's DNS answers the name with the anycast address itself.
T_LEAVE=$(now)
log "phase members leave: SIGTERM to the agents of a1 and a2"
obs=()
ok=PASS
rc=0
stop_agent a1 || rc=$?
[ "$rc" = 0 ] || { ok=FAIL; obs+=("a1's agent exited $rc;"); }
rc=0
stop_agent a2 || rc=$?
T_LAST_LEAVE=$(now) # a2's agent exits once anydns acknowledged its leave
[ "$rc" = 0 ] || { ok=FAIL; obs+=("a2's agent exited $rc;"); }
obs+=("both agents left (exit 0) $(elapsed "$T_LEAVE" "$T_LAST_LEAVE")s after SIGTERM;")
for m in a1 a2; do member_gone "$m" || { ok=FAIL; obs+=("$m still in A's table;"); }; done
if wait_for 5 "A's /services readyz != 200" service_not_ready a; then
    obs+=("A /services/${SERVICE%.}/readyz $(service_readyz a) \"$(head -c 60 "$LAB_DIR/site-a/service-readyz.body" | tr -d '\n')\" after $(elapsed "$T_LAST_LEAVE" "$(now)")s;")
else
    ok=FAIL
    obs+=("A's /services readyz still 200;")
fi
gap=-
if wait_for 10 "router: $SERVICE_ANYCAST/32 from site a withdrawn" no_route_from "$SERVICE_ANYCAST" a; then
    polled=$(elapsed "$T_LAST_LEAVE" "$(now)")
    # the router's own log has the withdrawal to the millisecond
    if t_w=$(bird_event_after "$T_LEAVE" "site_a.ipv4 > removed .*$SERVICE_ANYCAST/32"); then
        gap=$(elapsed "$T_LAST_LEAVE" "$t_w")
    else
        gap=$polled
    fi
    obs+=("$SERVICE_ANYCAST/32 from A withdrawn at the router ${gap}s after the last leave (seen by polling after ${polled}s);")
    LEAVE_WITHDRAWAL=$gap
else
    ok=FAIL
    obs+=("$SERVICE_ANYCAST/32 from A still at the router;")
fi
dns_routes=$(routes_of "$ANYCAST")
svc_routes=$(routes_of "$SERVICE_ANYCAST")
obs+=("router: $ANYCAST/32 from $dns_routes, $SERVICE_ANYCAST/32 from ${svc_routes:-none};")
[ "$dns_routes" = "A B C" ] && [ "$svc_routes" = B ] || ok=FAIL
wait_for 5 "kernel route for $SERVICE_ANYCAST via site b" service_kernel_via b || { ok=FAIL; obs+=("kernel $SERVICE_ANYCAST not via B;"); }
kernel_route_via a || { ok=FAIL; obs+=("kernel $ANYCAST/32 not via A;"); }
reply=$(in_ns client dig +nsid +tries=1 +timeout=1 "@$ANYCAST" "$SERVICE" A 2>&1 || true)
answer=$(awk '$4 == "A" { print $5 }' <<<"$reply" | paste -sd' ')
nsid=$(sed -n 's/.*NSID: .*("\(.*\)").*/\1/p' <<<"$reply")
obs+=("dig @$ANYCAST ${SERVICE%.} -> ${answer:-nothing} from ${nsid:-?} (no member there);")
[ "$answer" = "$SERVICE_ANYCAST" ] && [ "$nsid" = site-a ] || ok=FAIL
if wait_for 5 "GET http://$SERVICE_ANYCAST/ landing on site B's members" web_lands_on_site b; then
    obs+=("GET http://$SERVICE_ANYCAST/ -> \"$(web_get "$SERVICE_ANYCAST")\";")
else
    ok=FAIL
    obs+=("GET http://$SERVICE_ANYCAST/ -> \"$(web_get "$SERVICE_ANYCAST")\";")
fi
obs+=("B still answers $(member_of "$(service_at b)");")
LEAVE_OBS="${obs[*]}"
LEAVE_OK=$ok
LEAVE_GAP=$gap

# ---------------------------------------------------------------- phase 11: a member of A joins again
T_REJOIN=$(now)
log "phase member rejoins: a1's agent again"
start_agent a1
obs=()
ok=PASS
gap=-
if wait_for 10 "router route $SERVICE_ANYCAST/32 from site a" route_from "$SERVICE_ANYCAST" a &&
    wait_for 5 "kernel route for $SERVICE_ANYCAST via site a" service_kernel_via a; then
    gap=$(elapsed "$T_REJOIN" "$(now)")
    obs+=("a1 joined, A announces $SERVICE_ANYCAST/32 again after ${gap}s, kernel via A;")
else
    ok=FAIL
    obs+=("A did not announce $SERVICE_ANYCAST/32 again;")
fi
wait_for 5 "A answering a1" answers_are a "${MEMBER_ADDR[a1]}" || ok=FAIL
wait_for 5 "GET http://$SERVICE_ANYCAST/ landing on site A's members" web_lands_on_site a || ok=FAIL
obs+=("A answers $(member_of "$(service_at a)"); GET http://$SERVICE_ANYCAST/ -> \"$(web_get "$SERVICE_ANYCAST")\";")
REJOIN_OBS="${obs[*]}"
REJOIN_OK=$ok
REJOIN_GAP=$gap

# ---------------------------------------------------------------- phase 12: a member host dies
# kill -9 of b2's agent: no leave, the reports stop; B drops b2 after the lease and answers b1.
T_SILENT=$(now)
log "phase member silent: SIGKILL to b2's agent (no leave; lease ${MEMBER_LEASE}s)"
{ kill -KILL "${AGENT_PID[b2]}"; wait "${AGENT_PID[b2]}"; } 2>/dev/null || true
AGENT_PID[b2]=
obs=()
ok=PASS
gap=-
if wait_for $((MEMBER_LEASE + 5)) "b2 dropped from B's table" member_gone b2; then
    gap=$(elapsed "$T_SILENT" "$(now)")
    obs+=("b2 dropped from B's table ${gap}s after the kill (lease ${MEMBER_LEASE}s, a report every ${MEMBER_INTERVAL}s);")
    le "$MEMBER_LEASE" "$(awk -v g="$gap" -v i="$MEMBER_INTERVAL" 'BEGIN { print g + i }')" || { ok=FAIL; obs+=("(before the lease);"); }
else
    ok=FAIL
    obs+=("b2 still in B's table: $(member_txt b2);")
fi
if answers_are b "${MEMBER_ADDR[b1]}"; then obs+=("B answers b1 (5 of 5);"); else
    ok=FAIL
    obs+=("B answers $(service_at b);")
fi
if route_from "$SERVICE_ANYCAST" b && service_ready b; then obs+=("B keeps $SERVICE_ANYCAST/32 (b1 left);"); else
    ok=FAIL
    obs+=("B lost $SERVICE_ANYCAST/32;")
fi
SILENT_OBS="${obs[*]}"
SILENT_OK=$ok
SILENT_GAP=$gap

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
    "$EXPIRE_OBS" "$EXPIRE_OK" "$EXPIRE_GAP" "$T_EXPIRE" "$T_JOIN" yes
phase_row "members join" "agents join a1 a2 at A, b1 b2 at B; A, B announce $SERVICE_ANYCAST/32, C not; 0 lost" \
    "$JOIN_OBS" "$JOIN_OK" - "$T_JOIN" "$T_LEAST" yes
phase_row "least-sessions" "ties spread; each site answers its member of fewest reported sessions, follows a change; 0 lost" \
    "$LEAST_OBS" "$LEAST_OK" "$LEAST_GAP" "$T_LEAST" "$T_LEAVE" yes
phase_row "A's members leave" "A withdraws $SERVICE_ANYCAST/32, keeps $ANYCAST/32; client's service traffic -> B's members; 0 lost" \
    "$LEAVE_OBS" "$LEAVE_OK" "$LEAVE_GAP" "$T_LEAVE" "$T_REJOIN" yes
phase_row "a member of A rejoins" "A announces $SERVICE_ANYCAST/32 again, service traffic back to A; 0 lost" \
    "$REJOIN_OBS" "$REJOIN_OK" "$REJOIN_GAP" "$T_REJOIN" "$T_SILENT" yes
phase_row "a member dies (kill -9)" "no leave: B drops b2 after the lease (${MEMBER_LEASE}s), answers b1, keeps the route; 0 lost" \
    "$SILENT_OBS" "$SILENT_OK" "$SILENT_GAP" "$T_SILENT" "$T_END" yes
eval "$(window "$T_STREAM" "$T_END")"
sites=${sites//,/, }
row total "whole stream" "answered by ${sites//:/ }" "$sent" "$lost" "" PASS
[ -z "${LEAVE_WITHDRAWAL:-}" ] || log "withdrawal of $SERVICE_ANYCAST/32 at site A: ${LEAVE_WITHDRAWAL}s after the last member left"
if [ "$FAILED" = 0 ]; then log "all expectations held"; else log "some expectations failed"; fi
