# shellcheck shell=bash
# Before anything is built: the packages the lab needs, a fresh LAB_DIR, and the anydns binary
# under test (ANYDNS_BIN) copied into it and checked. Sourced by Lab/run-lab.sh; functions only.

install_packages() {
    local packages=(bird2 exabgp knot iproute2 curl python3-dnspython bind9-dnsutils) missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    [ "${LAB_SKIP_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts bird and exabgp as services on install; the lab runs its own copies.
    for p in bird exabgp knot; do
        if [ -d /run/systemd/system ]; then
            systemctl stop "$p" >/dev/null 2>&1 || true
        elif command -v service >/dev/null 2>&1; then
            service "$p" stop >/dev/null 2>&1 || true
        fi
    done
}

# prepare_anydns: a fresh LAB_DIR; ANYDNS_SOURCE (the ANYDNS_BIN knob) and ANYDNS_CMD (what the
# lab runs) set, the binary copied and checked
prepare_anydns() {
    ANYDNS_SOURCE=${ANYDNS_BIN:-$REPO/.build/debug/anydns}
    rm -rf "$LAB_DIR"
    mkdir -p "$LAB_DIR/bin" "$LAB_DIR/router" "$LAB_DIR/client" "$LAB_DIR/primary"
    if [ -f "$ANYDNS_SOURCE" ] && [ -x "$ANYDNS_SOURCE" ]; then
        # a private copy: a rebuild during the run must not change the binary under the lab
        install -m 0755 "$ANYDNS_SOURCE" "$LAB_DIR/bin/anydns"
        ANYDNS_CMD=("$LAB_DIR/bin/anydns")
    else
        # a command line (e.g. ANYDNS_BIN="valgrind /path/to/anydns")
        read -r -a ANYDNS_CMD <<<"$ANYDNS_SOURCE"
        for i in "${!ANYDNS_CMD[@]}"; do # relative paths still work after the lab's cd
            [[ "${ANYDNS_CMD[$i]}" == /* ]] || [ ! -e "${ANYDNS_CMD[$i]}" ] || ANYDNS_CMD[i]=$PWD/${ANYDNS_CMD[$i]}
        done
        command -v "${ANYDNS_CMD[0]}" >/dev/null || die "ANYDNS_BIN=$ANYDNS_SOURCE: no such executable (build it first)"
    fi
    "${ANYDNS_CMD[@]}" serve --help 2>&1 | grep -q -- --management ||
        die "$ANYDNS_SOURCE serve --help does not offer --management: too old a binary for the lab"
    "${ANYDNS_CMD[@]}" members --help >/dev/null 2>&1 ||
        die "$ANYDNS_SOURCE has no 'members' command: too old a binary for the lab (anycast services, issue 13)"
}
