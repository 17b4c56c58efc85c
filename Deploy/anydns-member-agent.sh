#!/bin/sh
# anydns member agent: keeps this host in an anycast service's member table at its site's anydns
# (README "Anycast services: the .any member table"; Deploy/README.md "Anycast services and
# members").
#
# A member host of service S (e.g. www.njust.edu.any.) runs this next to the service itself. It
#   1. joins: one RFC 2136 UPDATE, signed with TSIG (RFC 8945), that adds M._members.S A/AAAA with
#      this host's unicast address(es) and its current session count as TXT "sessions=N";
#   2. reports every INTERVAL seconds the number of established TCP sessions on the local service
#      port (`ss -Htn state established '( sport = :PORT )'`) as an absolute count: one UPDATE that
#      deletes M._members.S TXT and adds TXT "sessions=N". Each report also re-adds the addresses
#      (adding a record that exists changes nothing, RFC 2136 §3.4.2.2), so a restarted anydns or
#      a member dropped after its lease is back in the table at the next report; a lost report is
#      repaired by the next one (the paper's +1/-1 messages would drift instead);
#   3. leaves on exit (SIGTERM, SIGINT, or any error after joining): `update delete M._members.S`.
# The site's anydns drops a member that stops reporting for the service's `lease`, so a host that
# dies without leaving disappears too. Keep INTERVAL well below the lease (a third or less).
#
# Usage:
#   anydns-member-agent.sh [options]                 join, report every INTERVAL s, leave on exit
#   anydns-member-agent.sh --once join|report|leave  one UPDATE, then exit 0 (or 1 if refused)
#
# Options (each also read from the environment variable in brackets; a flag wins):
#   -s, --server ADDR        the site's anydns: its management address      [ANYDNS_SERVER] 127.0.0.1
#   -p, --port PORT          its DNS port                                   [ANYDNS_PORT]   53
#   -S, --service NAME       the service, e.g. www.njust.edu.any.           [MEMBER_SERVICE] required
#   -m, --member NAME        this member's label M (one DNS label)          [MEMBER_NAME]   hostname -s
#   -a, --address ADDR       a unicast address of this member; repeat for   [MEMBER_ADDRESSES]
#                            more (IPv4 -> A, IPv6 -> AAAA)                  space separated; required
#   -y, --key [ALG:]NAME:SECRET  TSIG key, one of the service's `keys:`     [MEMBER_KEY]
#                            (ALG defaults to hmac-sha256). Prefer the environment variable or
#                            --keyfile: the secret is given to nsupdate on its standard input,
#                            but a flag is visible in `ps`.
#   -k, --keyfile FILE       TSIG key file for `nsupdate -k` (tsig-keygen output)   [MEMBER_KEYFILE]
#   -z, --zone ZONE          the served zone holding S (default: the owner of the SOA that the
#                            server returns for S, e.g. any.)               [MEMBER_ZONE]
#   -i, --interval SECONDS   seconds between reports                       [MEMBER_INTERVAL] 10
#   -l, --local-port PORT    TCP port whose established sessions are counted  [MEMBER_LOCAL_PORT]
#                            (the service's port: the one in its `probe: tcp:PORT`)
#   -n, --sessions N         report N instead of counting with ss (tests; a member that counts
#                            its sessions itself)                          [MEMBER_SESSIONS]
#   -t, --ttl SECONDS        TTL of the member records                     [MEMBER_TTL] 30
#   -T, --timeout SECONDS    how long one UPDATE may take (nsupdate -t; UDP retried every second)
#                                                                          [MEMBER_TIMEOUT] 5
#       --once ACTION        join, report or leave once and exit
#       --dry-run            print the nsupdate input (secret masked) instead of sending it
#   -h, --help               this text
# One of --local-port or --sessions is needed to join or report. Needs nsupdate and dig
# (Debian: bind9-dnsutils) and ss (iproute2).
#
# Example (a web server member of www.njust.edu.any. at site A, see Deploy/README.md):
#   MEMBER_KEY=hmac-sha256:www-members:<base64> anydns-member-agent.sh --server 198.51.100.11 \
#       --service www.njust.edu.any. --member web1 --address 192.0.2.10 --local-port 80
# Exit status: 0 after leaving on SIGTERM/SIGINT or after a successful --once; 1 when an UPDATE was
# refused or failed in --once mode, or the leave on exit failed; 2 on a usage error.
set -eu

log() { printf '%s anydns-member-agent[%s]: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${member:-?}" "$*" >&2; }
usage_error() { log "error: $*"; echo "run '$0 --help' for the options" >&2; exit 2; }
help() { sed -n '2,/^set -eu$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0; }

server=${ANYDNS_SERVER:-127.0.0.1}
port=${ANYDNS_PORT:-53}
service=${MEMBER_SERVICE:-}
member=${MEMBER_NAME:-}
addresses=${MEMBER_ADDRESSES:-}
key=${MEMBER_KEY:-}
keyfile=${MEMBER_KEYFILE:-}
zone=${MEMBER_ZONE:-}
interval=${MEMBER_INTERVAL:-10}
local_port=${MEMBER_LOCAL_PORT:-}
sessions=${MEMBER_SESSIONS:-}
ttl=${MEMBER_TTL:-30}
timeout=${MEMBER_TIMEOUT:-5}
once=
dry_run=0
flag_addresses=

need_value() { [ "$2" -ge 2 ] || usage_error "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
    -s | --server) need_value "$1" $#; server=$2; shift 2 ;;
    -p | --port) need_value "$1" $#; port=$2; shift 2 ;;
    -S | --service) need_value "$1" $#; service=$2; shift 2 ;;
    -m | --member) need_value "$1" $#; member=$2; shift 2 ;;
    -a | --address) need_value "$1" $#; flag_addresses="$flag_addresses $2"; shift 2 ;;
    -y | --key) need_value "$1" $#; key=$2; shift 2 ;;
    -k | --keyfile) need_value "$1" $#; keyfile=$2; shift 2 ;;
    -z | --zone) need_value "$1" $#; zone=$2; shift 2 ;;
    -i | --interval) need_value "$1" $#; interval=$2; shift 2 ;;
    -l | --local-port) need_value "$1" $#; local_port=$2; shift 2 ;;
    -n | --sessions) need_value "$1" $#; sessions=$2; shift 2 ;;
    -t | --ttl) need_value "$1" $#; ttl=$2; shift 2 ;;
    -T | --timeout) need_value "$1" $#; timeout=$2; shift 2 ;;
    --once) need_value "$1" $#; once=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) help ;;
    *) usage_error "unknown argument: $1" ;;
    esac
done
[ -z "$flag_addresses" ] || addresses=$flag_addresses

# ---------------------------------------------------------------- checks
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
[ -n "$member" ] || member=$(hostname -s 2>/dev/null || hostname)
[ -n "$service" ] || usage_error "no service: give --service NAME (e.g. www.njust.edu.any.) or MEMBER_SERVICE"
case "$service" in *.) ;; *) service=$service. ;; esac
case "$zone" in '' | *.) ;; *) zone=$zone. ;; esac
case "$member" in
'' | *.* | *[!A-Za-z0-9_-]*) usage_error "member name '$member' must be one DNS label (letters, digits, - and _)" ;;
esac
owner=$member._members.$service
in_range() { is_uint "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
in_range "$port" 1 65535 || usage_error "--port: expected 1 to 65535, got '$port'"
is_uint "$ttl" || usage_error "--ttl: expected a whole number of seconds, got '$ttl'"
in_range "$timeout" 1 3600 || usage_error "--timeout: expected a whole number of seconds >= 1, got '$timeout'"
# interval: seconds, fractions allowed (sleep takes them on Debian)
case "$interval" in '' | *[!0-9.]* | *.*.* | .) usage_error "--interval: expected seconds, got '$interval'" ;; esac
[ -z "$sessions" ] || is_uint "$sessions" || usage_error "--sessions: expected a whole number, got '$sessions'"
[ -z "$local_port" ] || in_range "$local_port" 1 65535 || usage_error "--local-port: expected 1 to 65535, got '$local_port'"
case "$once" in '' | join | report | leave) ;; *) usage_error "--once: expected join, report or leave, got '$once'" ;; esac
if [ "$once" != leave ]; then
    [ -n "$local_port" ] || [ -n "$sessions" ] || [ "$once" = join ] ||
        usage_error "nothing to count: give --local-port PORT (the service's TCP port) or --sessions N"
    if [ "$once" != report ]; then
        [ -n "$(echo "$addresses" | tr -d ' ')" ] || usage_error "no address: give --address ADDR (repeatable) or MEMBER_ADDRESSES"
        for a in $addresses; do
            case "$a" in
            *:*) case "$a" in *[!0-9A-Fa-f:.]*) usage_error "not an IPv6 address: '$a'" ;; esac ;;
            *) case "$a" in *[!0-9.]* | *..* | .* | *.) usage_error "not an IPv4 address: '$a'" ;; esac ;;
            esac
        done
    fi
fi
# the key, as the `key` line of nsupdate's input (never on its command line) or nsupdate -k FILE
key_line=
if [ -n "$key" ]; then
    [ -z "$keyfile" ] || usage_error "give --key or --keyfile, not both"
    case "$key" in
    *:*:*) key_alg=${key%%:*}; rest=${key#*:} ;;
    *:*) key_alg=hmac-sha256; rest=$key ;;
    *) usage_error "--key: expected [ALG:]NAME:SECRET, e.g. hmac-sha256:www-members:<base64>" ;;
    esac
    key_name=${rest%%:*}
    key_secret=${rest#*:}
    if [ -z "$key_name" ] || [ -z "$key_secret" ]; then usage_error "--key: empty key name or secret"; fi
    key_line="key $key_alg:$key_name $key_secret"
elif [ -n "$keyfile" ]; then
    [ -r "$keyfile" ] || usage_error "--keyfile: cannot read $keyfile"
else
    usage_error "no TSIG key: give --key [ALG:]NAME:SECRET (or MEMBER_KEY) or --keyfile FILE; anydns refuses unsigned updates"
fi
if [ "$dry_run" = 0 ]; then
    command -v nsupdate >/dev/null || { log "error: nsupdate not found (Debian: apt-get install bind9-dnsutils)"; exit 1; }
    if [ -z "$sessions" ] && [ -n "$local_port" ]; then
        command -v ss >/dev/null || { log "error: ss not found (Debian: apt-get install iproute2)"; exit 1; }
    fi
fi

# ---------------------------------------------------------------- the updates
count_sessions() { # established TCP sessions whose local port is the service's port
    if [ -n "$sessions" ]; then
        echo "$sessions"
    elif [ "$dry_run" = 1 ] && ! command -v ss >/dev/null; then
        echo 0
    else
        ss -Htn state established "( sport = :$local_port )" | wc -l | tr -d ' '
    fi
}

find_zone() { # the apex of the zone holding the service: owner of the SOA in the server's answer
    [ -z "$zone" ] || return 0
    if [ "$dry_run" = 1 ] && ! command -v dig >/dev/null; then
        return 0
    fi
    command -v dig >/dev/null || { log "error: dig not found to find the zone (give --zone, e.g. --zone any.)"; return 1; }
    zone=$(dig +noall +answer +authority +tries=2 +time=2 -p "$port" "@$server" "$service" SOA 2>/dev/null |
        awk '$4 == "SOA" { print $1; exit }')
    if [ -z "$zone" ]; then
        log "cannot find the zone of $service at $server port $port (no SOA in the answer); give --zone"
        return 1
    fi
    log "zone of $service at $server: $zone"
}

# script ACTION COUNT: the nsupdate input for join (addresses + count), report (count; addresses
# again unless --once report) or leave
script() {
    echo "server $server $port"
    [ -z "$zone" ] || echo "zone $zone"
    [ -z "$key_line" ] || echo "$key_line"
    # nsupdate checks owners of A/AAAA as host names by default and silently drops the record
    # ("check-names failed: bad owner"): the _members label has an underscore (RFC 8552 style)
    echo "check-names off"
    case "$1" in
    join | report)
        if [ "$1" = join ] || [ -z "$once" ]; then
            for a in $addresses; do
                case "$a" in *:*) echo "update add $owner $ttl AAAA $a" ;; *) echo "update add $owner $ttl A $a" ;; esac
            done
        fi
        if [ "$1" = report ] || [ -z "$once" ]; then
            echo "update delete $owner TXT"
            echo "update add $owner $ttl TXT \"sessions=$2\""
        fi
        ;;
    leave) echo "update delete $owner" ;;
    esac
    echo send
}

# nsupdate with our timeouts: give up after $timeout s, re-sending over UDP every second until then
run_nsupdate() {
    if [ -n "$keyfile" ]; then
        nsupdate -t "$timeout" -u 1 -r "$timeout" -k "$keyfile"
    else
        nsupdate -t "$timeout" -u 1 -r "$timeout"
    fi
}

# send ACTION COUNT: one UPDATE; 0 when the server answered NOERROR (nsupdate exits 0)
send() {
    if [ "$dry_run" = 1 ]; then
        script "$1" "$2" | sed 's/^\(key [^ ]*\) .*/\1 <secret>/'
        return 0
    fi
    out=$(mktemp)
    if script "$1" "$2" | run_nsupdate >"$out" 2>&1; then
        rm -f "$out"
        return 0
    fi
    log "$1 of $owner at $server port $port failed: $(tr '\n' ' ' <"$out")"
    rm -f "$out"
    return 1
}

# ---------------------------------------------------------------- one-shot mode
if [ -n "$once" ]; then
    find_zone || exit 1
    count=0
    [ "$once" != report ] || count=$(count_sessions)
    send "$once" "$count" || exit 1
    [ "$dry_run" = 1 ] || log "$once: $owner$([ "$once" != report ] || echo " sessions=$count") at $server"
    exit 0
fi

# ---------------------------------------------------------------- agent mode
tried=0 # an UPDATE was sent: leave on exit (even if its answer was lost, it may have joined us)
sleeper=
leave() {
    trap - EXIT INT TERM HUP
    [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true
    status=0
    if [ "$tried" = 1 ]; then
        [ "$dry_run" = 0 ] || echo "# on exit (SIGTERM, SIGINT, SIGHUP, an error):"
        if send leave 0; then [ "$dry_run" = 1 ] || log "left $service"; else status=1; fi
    fi
    exit "$status"
}
trap leave EXIT INT TERM HUP

until find_zone; do # the server may not be up yet: keep trying
    sleep "$interval" & sleeper=$!
    wait "$sleeper" || true
    sleeper=
done
[ "$dry_run" = 1 ] || log "joining $service as $member (${addresses# }) at $server port $port, reporting every ${interval}s"
joined=0
last=
while :; do
    count=$(count_sessions)
    tried=1
    # every report is a join too (addresses + count): see the header
    if send join "$count"; then
        if [ "$joined" = 0 ]; then
            [ "$dry_run" = 1 ] || log "joined: sessions=$count"
            joined=1
        elif [ "$count" != "$last" ]; then
            log "reported sessions=$count"
        fi
        last=$count
    else
        last= # log the next successful count again
    fi
    if [ "$dry_run" = 1 ]; then
        echo "# every ${interval}s: the same with the current count"
        exit 0 # through the trap: shows the leave
    fi
    # sleep in the background so that SIGTERM is handled at once (the trap runs when wait returns)
    sleep "$interval" & sleeper=$!
    wait "$sleeper" || true
    sleeper=
done
