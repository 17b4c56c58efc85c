# shellcheck shell=bash
# Cleanup, run by the EXIT trap that Lab/run-lab.sh sets (INT and TERM exit through it too): prints
# the table, ends every process the lab recorded (the pids of lib/daemons.sh, STREAM_PID of
# lib/stream.sh) and removes the namespaces, whatever happened. Sourced by Lab/run-lab.sh;
# defines functions only.

kill_pids() { # TERM the given pids, wait up to 3 s, then KILL what is left
    local pids=() p
    for p in "$@"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=("$p"); done
    [ ${#pids[@]} -gt 0 ] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$(($(date +%s) + 3))
    while [ "$(date +%s)" -le "$deadline" ]; do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}
remove_namespaces() {
    local ns pids
    for ns in "${NAMESPACES[@]}"; do
        ip netns list | awk '{ print $1 }' | grep -qx -- "$ns" || continue
        # only processes left inside the lab's own namespaces (e.g. from an interrupted run)
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            log "namespace $ns: ending leftover processes: $(ps -o pid=,comm= -p "$(echo "$pids" | paste -sd,)" | tr -s ' \n' ' ')"
            # shellcheck disable=SC2086
            kill_pids $pids
        fi
        ip netns del "$ns" 2>/dev/null || true # removes its veths too
    done
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    print_table
    log "cleaning up"
    {
        # agents first, while anydns still answers their leave (bounded by their -T 2)
        kill_pids "${AGENT_PID[@]}" "${HOLD_PIDS[@]}"
        # anydns would take its lame-duck period over SIGTERM: no need here
        for p in "${ANYDNS_PID[@]}"; do [ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true; done
        kill_pids "$STREAM_PID" "${ANNOUNCER_PIDS[@]}" # announcers first: they withdraw ...
        kill_pids "${OTHER_PIDS[@]}"                    # ... while BIRD still runs
        wait
    } 2>/dev/null
    remove_namespaces
    [ "$FAILED" = 0 ] || [ "$rc" != 0 ] || rc=1
    log "exit $rc"
    exit "$rc"
}
