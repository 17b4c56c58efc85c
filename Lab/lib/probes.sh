# shellcheck shell=bash
# Looking at the lab without changing it, for polling with wait_for and for the observations: a
# site's /readyz and its answers, the router's BGP and kernel routes, the hidden primary and the
# sites' copies of lab.test., the members' entries and the service's answers, the members' web
# servers, the router's log. Sourced by Lab/run-lab.sh; defines functions only.

# ---- sites and the router
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

# ---- the hidden primary and the sites' copies of lab.test.
knotc_primary() { in_ns primary knotc -c "$LAB_DIR/primary/knot.conf" "$@"; }
primary_serial() { in_ns primary dig +short +tries=1 +timeout=1 "@$PRIMARY" lab.test. SOA | awk '$3 ~ /^[0-9]+$/ { print $3 }'; }
primary_answers() { [ -n "$(primary_serial)" ]; }
lab_serial_at() { in_ns client dig +short +tries=1 +timeout=1 "@${MGMT[$1]}" lab.test. SOA | awk '$3 ~ /^[0-9]+$/ { print $3 }'; }
lab_serial_is() { [ "$(lab_serial_at "$1")" = "$2" ]; }
zone_line() { in_ns client curl -sS --max-time 1 "http://${MGMT[$1]}:8053/zones/lab.test." 2>/dev/null || true; }
refresh_failing() { zone_line "$1" | grep -q "last: .*\(no answer\|connect\|refused\|timed out\|closed\|unreachable\)"; }
refresh_ok() { zone_line "$1" | grep -q "last: \(up to date\|transferred\)"; }
primary_changed() { [ "$(primary_serial)" != "$1" ]; }

# ---- the anycast service and its members
web_listening() { in_ns "mem-$1" ss -Htln "( sport = :$SERVICE_PORT )" | grep -q .; }
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
