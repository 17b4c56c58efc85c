# shellcheck shell=bash
# Phase 11, members join: the agents of a1 a2 (site A) and b1 b2 (site B) start. Each member
# in its site's table and reachable; A and B announce the service's address, C does not; the
# client's HTTP GET lands on A's members. Leaves: the four agents running (AGENT_PID).

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
stream_row "members join" "agents join a1 a2 at A, b1 b2 at B; A, B announce $SERVICE_ANYCAST/32, C not; 0 lost" \
    "${obs[*]}" "$ok" - "$T_JOIN" yes
