#!/usr/bin/env bash
# Puts the anycast service address(es) on the loopback interface, or takes them off.
#
#   anycast-address.sh add    [ADDR/PREFIX ...]   add each address to lo (no error if present)
#   anycast-address.sh remove [ADDR/PREFIX ...]   remove each address from lo (no error if absent)
#   anycast-address.sh status [ADDR/PREFIX ...]   exit 0 if every address is on lo, 1 otherwise
#
# Without addresses on the command line it uses $ANYCAST_ADDRESSES (space separated), and by
# default 10.53.0.1/32, the shared address of every anydns site (Deploy/README.md, "Walkthrough").
# IPv6 addresses work the same way: anycast-address.sh add 2001:db8:53::1/128
#
# Knobs (environment):
#   ANYCAST_ADDRESSES  addresses to manage, e.g. "10.53.0.1/32 2001:db8:53::1/128"
#   ANYCAST_DEVICE     interface that carries them (default lo). The address is host-only (/32,
#                      /128): it is reachable from outside only because the BGP announcer makes the
#                      upstream router send 10.53.0.1/32 to this host's unique address.
#   ANYCAST_LABEL      IPv4 label shown by `ip addr` (default lo:anycast; like the lo:1 alias of
#                      ifconfig days). Purely cosmetic; empty for none.
#
# Order at boot: add the address (this script), start anydns (which binds with IP_FREEBIND, so it
# may even start first), then start the announcer (ExaBGP or BIRD + anydns-health.sh), which
# announces only while anydns's /readyz says 200. Removing the address is not how to take a site
# out: drain it (SIGTERM to anydns or its maintenance file) so the announcer withdraws first.
#
# On a shared Ethernet segment you may also want, so that this host does not answer ARP for the
# anycast address on its other interfaces:
#   sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
# (not needed when the upstream router reaches the site over a routed point-to-point link).
set -euo pipefail

usage() { sed -n '2,9p' "$0" >&2; exit 2; }

action=${1:-}
[ -n "$action" ] || usage
shift
device=${ANYCAST_DEVICE:-lo}
label=${ANYCAST_LABEL-lo:anycast}
if [ $# -gt 0 ]; then
    addresses=("$@")
else
    read -r -a addresses <<<"${ANYCAST_ADDRESSES:-10.53.0.1/32}"
fi

family() { case "$1" in *:*) echo -6 ;; *) echo -4 ;; esac; }
# A bare address gets a host prefix: /32 for IPv4, /128 for IPv6.
with_prefix() {
    case "$1" in */*) echo "$1" ;; *:*) echo "$1/128" ;; *) echo "$1/32" ;; esac
}
present() { # present FAMILY ADDR/PREFIX: is exactly this address on the device?
    ip "$1" -o addr show dev "$device" to "$2" | grep -q .
}

status=0
for raw in "${addresses[@]}"; do
    addr=$(with_prefix "$raw")
    fam=$(family "$addr")
    case "$action" in
    add)
        ip link set dev "$device" up
        if present "$fam" "$addr"; then
            echo "$addr already on $device"
        elif [ "$fam" = -4 ] && [ -n "$label" ] && [ "$device" = lo ]; then
            ip "$fam" addr add "$addr" dev "$device" label "$label"
            echo "$addr added to $device"
        else
            ip "$fam" addr add "$addr" dev "$device"
            echo "$addr added to $device"
        fi
        ;;
    remove)
        if present "$fam" "$addr"; then
            ip "$fam" addr del "$addr" dev "$device"
            echo "$addr removed from $device"
        else
            echo "$addr not on $device"
        fi
        ;;
    status)
        if present "$fam" "$addr"; then echo "$addr on $device"; else echo "$addr missing from $device"; status=1; fi
        ;;
    *) usage ;;
    esac
done
exit "$status"
