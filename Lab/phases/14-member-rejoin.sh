# shellcheck shell=bash
# Phase 14, a member of A rejoins: a1's agent starts again; A announces the service's address
# again and answers a1, the client's GET lands on A. Leaves: a1's agent running.

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
stream_row "a member of A rejoins" "A announces $SERVICE_ANYCAST/32 again, service traffic back to A; 0 lost" \
    "${obs[*]}" "$ok" "$gap" "$T_REJOIN" yes
