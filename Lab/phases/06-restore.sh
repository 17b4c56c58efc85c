# shellcheck shell=bash
# Phase 6, restore A, B: both anydns start again; once ready they are announced and the client
# goes back to site-a with no query lost. Leaves: every site running and announced, client on A.

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
stream_row "restore A, B" "both ready again, client back on site-a, 0 lost" \
    "${obs[*]}" "$ok" "$gap" "$T_RESTORE" yes
