# shellcheck shell=bash
# Phase 4, drain A: SIGTERM to site A's anydns. Its /readyz turns 503 at once, the announcer
# withdraws, the client moves to site-b with no query lost, and A answers during its lame duck,
# then exits 0. Leaves: A stopped (ANYDNS_PID[a] empty), the client on site-b.

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
stream_row "drain A (SIGTERM)" "readyz 503 at once, client -> site-b, 0 lost, A exits 0 after lame duck" \
    "${obs[*]}" "$ok" "$gap" "$T_DRAIN" yes
