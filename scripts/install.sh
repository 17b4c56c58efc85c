#!/bin/sh
# Installs a built anydns and its deployment files (README "Installing"); `make install` and
# `make deb` (scripts/build-deb.sh, with PREFIX=/usr) both use it.
#
#   scripts/install.sh BINARY
#
# Environment:
#   DESTDIR   staging root, prepended to every path (default: empty, the real system)
#   PREFIX    default /usr/local: BINARY goes to $PREFIX/bin/anydns, the documentation (README.md,
#             Deploy/, the example Zones/) to $PREFIX/share/doc/anydns/
#   UNITDIR   systemd unit directory (default $PREFIX/lib/systemd/system; the package uses
#             /lib/systemd/system, as Debian 12 packages do)
#
# The configuration always goes to /etc/anydns (the unit reads /etc/anydns/anydns.yaml):
# Deploy/anydns.default.yaml as /etc/anydns/anydns.yaml and the zones it serves in
# /etc/anydns/zones/. Files already there are kept, never overwritten (an operator's edits win).
# Deploy/anydns.service names /usr/bin/anydns (the package's path); for another PREFIX the
# installed unit is rewritten to $PREFIX/bin/anydns and $PREFIX/share/doc/anydns.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
binary=$1
[ -x "$binary" ] || { echo "$0: $binary is not an executable (build it first)" >&2; exit 1; }
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
doc=$DESTDIR$PREFIX/share/doc/anydns
etc=$DESTDIR/etc/anydns

install -d -m 0755 "$DESTDIR$PREFIX/bin" "$DESTDIR$UNITDIR" "$etc/zones" \
    "$doc/Deploy/exabgp" "$doc/Deploy/bird" "$doc/Zones"
install -m 0755 "$binary" "$DESTDIR$PREFIX/bin/anydns"

sed -e "s|/usr/bin/anydns|$PREFIX/bin/anydns|g" \
    -e "s|/usr/share/doc/anydns|$PREFIX/share/doc/anydns|g" \
    Deploy/anydns.service > "$DESTDIR$UNITDIR/anydns.service"
chmod 0644 "$DESTDIR$UNITDIR/anydns.service"

# Configuration: install only what is not there yet.
keep_or_install() { # SOURCE TARGET
    if [ -e "$2" ]; then
        echo "kept existing $2" >&2
    else
        install -m 0644 "$1" "$2"
    fi
}
keep_or_install Deploy/anydns.default.yaml "$etc/anydns.yaml"
keep_or_install Zones/any.zone "$etc/zones/any.zone"
keep_or_install Zones/example.com.zone "$etc/zones/example.com.zone"

# Documentation, laid out as in the source tree so Deploy/anydns.yaml's ../Zones paths hold.
install -m 0644 README.md "$doc/README.md"
install -m 0644 Deploy/README.md Deploy/anydns.yaml Deploy/anydns-secondary.yaml \
    Deploy/anydns.default.yaml Deploy/anydns.service "$doc/Deploy/"
install -m 0755 Deploy/anycast-address.sh Deploy/anydns-member-agent.sh "$doc/Deploy/"
install -m 0644 Deploy/exabgp/exabgp.conf "$doc/Deploy/exabgp/"
install -m 0644 Deploy/bird/bird.conf "$doc/Deploy/bird/"
install -m 0755 Deploy/bird/anydns-health.sh "$doc/Deploy/bird/"
install -m 0644 Zones/any.zone Zones/example.com.zone Zones/signed.example.zone \
    Zones/signed.example.anchor "$doc/Zones/"
