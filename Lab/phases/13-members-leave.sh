# shellcheck shell=bash
# Phase 13, A's members leave: SIGTERM to the agents of a1 and a2 (they leave and exit 0). A
# withdraws the service's address but keeps the DNS address; the client's service traffic goes
# to B's members. Leaves: a1's and a2's agents stopped; the withdrawal time noted for the end.

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
    note_at_end "withdrawal of $SERVICE_ANYCAST/32 at site A: ${gap}s after the last member left"
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
stream_row "A's members leave" "A withdraws $SERVICE_ANYCAST/32, keeps $ANYCAST/32; client's service traffic -> B's members; 0 lost" \
    "${obs[*]}" "$ok" "$gap" "$T_LEAVE" yes
