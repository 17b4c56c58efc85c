# shellcheck shell=bash
# The client's continuous query stream to the anycast address (Lab/query_stream.py): started once
# the lab has converged, read by the phases while it runs (stream_wait), judged after the last
# phase (window, by lib/report.sh). Sourced by Lab/run-lab.sh; defines functions only.

STREAM_PID= # the stream's process while it runs

# start_stream: the stream in the client, recording to STREAM_OUT; STREAM_PID and T_STREAM set
start_stream() {
    log "starting the query stream in the client"
    ip netns exec client "$PY" "$HERE/query_stream.py" run --out "$STREAM_OUT" --server "$ANYCAST" \
        --interval "$STREAM_INTERVAL" --timeout "$STREAM_TIMEOUT" --max-duration 900 2>"$LAB_DIR/client/stream.log" &
    STREAM_PID=$!
    T_STREAM=$(now)
}
stream_wait() { # stream_wait SITE AFTER DEADLINE -> DONE time of the first answer from SITE
    "$PY" "$HERE/query_stream.py" wait --out "$STREAM_OUT" --site "site-$1" --after "$2" --deadline "$3"
}
# window FROM TO -> shell assignments: sent, lost, answered, sites, max_silence of that window
window() { "$PY" "$HERE/query_stream.py" window --out "$STREAM_OUT" --from "$1" --to "$2"; }
stop_stream() { # the end of the stream: SIGTERM, and wait for it to finish its record
    kill -TERM "$STREAM_PID"
    wait "$STREAM_PID" || true
    STREAM_PID=
}
