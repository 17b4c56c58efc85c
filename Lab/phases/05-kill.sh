# shellcheck shell=bash
# Phase 5, kill -9 B: site B's anydns vanishes; site-c must answer within MAX_GAP seconds (the
# queries sent to B meanwhile are lost). Then row `cookie`: the COOKIE that 02-identity.sh took
# from site A must be valid at site C (every site shares cookies.secret).
# Leaves: A and B stopped, the client on site-c.

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
stream_row "kill -9 B" "client -> site-c within ${MAX_GAP}s (some loss expected)" \
    "${obs[*]}" "$ok" "$gap" "$T_KILL" no

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
