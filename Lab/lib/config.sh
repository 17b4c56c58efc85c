# shellcheck shell=bash
# The lab's configuration files in LAB_DIR: the one anydns.yaml every site runs (with its own copy
# of Zones/any.zone beside it), and the hidden primary's lab.test. zone and Knot DNS configuration.
# Sourced by Lab/run-lab.sh; defines functions only.

# the hidden primary: Knot DNS serving lab.test. to the sites with TSIG, notifying each of them
lab_zone() { # lab_zone SERIAL: lab.test. with the lab's short SOA timers
    printf '$ORIGIN lab.test.\n$TTL 60\n@ SOA ns1 hostmaster %s %s %s %s 60\n@ NS ns1\nns1 A %s\nwww A 192.0.2.%s\n' \
        "$1" "$LAB_REFRESH" "$LAB_RETRY" "$LAB_EXPIRE" "$PRIMARY" "$(($1 % 250))"
}

# write_configs: LAB_DIR/anydns.yaml, LAB_DIR/site-X/{anydns.yaml,any.zone}, LAB_DIR/primary/*
write_configs() {
    cat >"$LAB_DIR/anydns.yaml" <<EOF
# The one anydns configuration of the lab: every site runs a byte-identical copy of this file
# (only --identity and --management differ). any.zone is relative to the file's directory,
# so each site serves its own copy of the zone, which the reload phase edits.
dns:
  port: 53
  anycast: [$ANYCAST]
management:
  http-port: 8053
keys:
  - name: transfer
    algorithm: hmac-sha256
    secret: $TSIG_SECRET
  - name: $MEMBER_KEY_NAME # members of $SERVICE sign their updates with it
    algorithm: hmac-sha256
    secret: $MEMBER_KEY_SECRET
remotes:
  - name: hidden-primary
    address: [$PRIMARY:53]
    key: transfer
acls:
  - name: primary-notify
    address: [$PRIMARY/32]
    key: transfer
storage: store
cookies:
  secret: $COOKIE_SECRET
zones:
  - origin: any.
    file: any.zone
  - origin: lab.test.
    primaries: [hidden-primary]
    allow-notify: [primary-notify]
# The anycast service of the member phases: members behind sites A and B join with
# Deploy/anydns-member-agent.sh; site C has none and never announces $SERVICE_ANYCAST.
services:
  - name: $SERVICE
    anycast: [$SERVICE_ANYCAST]
    keys: [$MEMBER_KEY_NAME]
    policy: least-sessions
    probe: tcp:$SERVICE_PORT
    lease: $MEMBER_LEASE
lame-duck: $LAME_DUCK
health:
  probe-interval: 0.5
EOF
    for s in "${SITES[@]}"; do
        mkdir -p "$LAB_DIR/site-$s"
        cp "$LAB_DIR/anydns.yaml" "$LAB_DIR/site-$s/anydns.yaml"
        cp "$REPO/Zones/any.zone" "$LAB_DIR/site-$s/any.zone"
    done
    lab_zone 1 >"$LAB_DIR/primary/lab.test.zone"
    {
        printf 'server:\n  rundir: "%s"\n  listen: %s@53\n  background-workers: 1\n' "$LAB_DIR/primary" "$PRIMARY"
        printf 'key:\n  - id: transfer\n    algorithm: hmac-sha256\n    secret: %s\n' "$TSIG_SECRET"
        printf 'remote:\n'
        for s in "${SITES[@]}"; do printf '  - id: site-%s\n    address: %s@53\n    key: transfer\n' "$s" "${MGMT[$s]}"; done
        printf 'acl:\n  - id: sites\n    address: 198.51.100.0/24\n    key: transfer\n    action: transfer\n'
        printf 'database:\n  storage: "%s"\nlog:\n  - target: stderr\n    any: info\n' "$LAB_DIR/primary"
        printf 'zone:\n  - domain: lab.test.\n    file: "%s"\n    storage: "%s"\n' "$LAB_DIR/primary/lab.test.zone" "$LAB_DIR/primary"
        printf '    zonefile-sync: -1\n    zonefile-load: difference\n    journal-content: changes\n'
        printf '    notify: [site-a, site-b, site-c]\n    acl: [sites]\n'
    } >"$LAB_DIR/primary/knot.conf"
}
