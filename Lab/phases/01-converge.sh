# shellcheck shell=bash
# Phase 1, converge (Lab/README.md "The scenario"): three routes at the router, the kernel route
# via site A; then the client's query stream starts and must be answered by site-a. Row
# `converge`; if it fails the run stops here, as nothing after it would mean anything.
# Needs: the sites started (T_START). Leaves: the stream running (STREAM_PID, T_STREAM).

obs=()
ok=PASS
for s in "${SITES[@]}"; do
    wait_for 30 "router route from site $s" router_has_route_from "$s" || ok=FAIL
done
wait_for 10 "router kernel route via site a" kernel_route_via a || ok=FAIL
T_CONVERGED=$(now)
birdc_router show route "$ANYCAST/32" all >"$LAB_DIR/router/routes-converged.txt" 2>&1 || true
obs+=("$(grep -c 'via 198' "$LAB_DIR/router/routes-converged.txt" || true) routes at the router, kernel via $(ip -n router route show "$ANYCAST/32" | awk '{ print $3 }') $(elapsed "$T_START" "$T_CONVERGED")s after start;")

start_stream
if t_a=$(stream_wait a "$T_STREAM" 20); then
    obs+=("client answered by site-a")
else
    ok=FAIL
    obs+=("client never reached site-a")
fi
row converge "3 routes, kernel via site A, client answered by site-a" "${obs[*]}" "" "" \
    "$( [ -n "${t_a:-}" ] && elapsed "$T_STREAM" "$t_a" || echo -)" "$ok"
[ "$ok" = PASS ] || die "the lab did not converge; see $LAB_DIR"
