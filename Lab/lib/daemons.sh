# shellcheck shell=bash
# The lab's processes: Knot DNS as the hidden primary, BIRD in the router, anydns and its announcer
# (ExaBGP, or BIRD + Deploy/bird/anydns-health.sh for the sites in LAB_BIRD_SITES) at every site,
# and the member hosts' web servers and agents. Sourced by Lab/run-lab.sh; defines the pid
# bookkeeping below and functions.

# Every process the lab starts in the background, by kind: lib/cleanup.sh ends each recorded pid
# (an emptied entry is one that has already ended). A phase that starts a process of another kind
# adds its pid to OTHER_PIDS.
declare -A ANYDNS_PID=() ANNOUNCER_PIDS=() # by site (ANNOUNCER_PIDS also SITE-www: BIRD's second checker)
OTHER_PIDS=()                               # Knot, BIRD (router, BIRD sites), the members' web servers
declare -A AGENT_PID=()                     # by member
HOLD_PIDS=()                                # the client's idle TCP sessions to members

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

# start_primary: Knot DNS in namespace primary, serving lab.test.
start_primary() {
    log "starting Knot DNS as the hidden primary ($PRIMARY)"
    ip netns exec primary knotd -c "$LAB_DIR/primary/knot.conf" >"$LAB_DIR/primary/knot.log" 2>&1 &
    OTHER_PIDS+=($!)
    wait_for 15 "Knot answering lab.test." primary_answers || die "Knot did not start: $(tail -5 "$LAB_DIR/primary/knot.log")"
}

# start_router: BIRD in namespace router (Lab/router-bird.conf)
start_router() {
    log "starting BIRD in the router"
    bird -p -c "$HERE/router-bird.conf" || die "BIRD rejects Lab/router-bird.conf"
    ip netns exec router bird -f -c "$HERE/router-bird.conf" -s "$LAB_DIR/router/bird.ctl" -P "$LAB_DIR/router/bird.pid" \
        >"$LAB_DIR/router/bird.log" 2>&1 &
    OTHER_PIDS+=($!)
    wait_for 10 "router BIRD control socket" birdc_router show status || die "router BIRD did not start"
}

# start_member_webs: every member's web server, listening
start_member_webs() {
    log "starting the members' web servers (port $SERVICE_PORT; their agents start in the member phases)"
    for m in "${MEMBERS[@]}"; do start_member_web "$m"; done
    for m in "${MEMBERS[@]}"; do
        wait_for 10 "member $m web server listening" web_listening "$m" || die "member $m's web server did not start: $(tail -3 "$LAB_DIR/mem-$m/web.log")"
    done
}

# start_sites: anydns at every site, then, once it is ready, the site's announcer; T_START set
start_sites() {
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
}
