#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR # so that `shellcheck -x -a Lab/run-lab.sh` checks every file
# Multi-site anycast lab for anydns (see Lab/README.md). Run as root: `make lab`, or
#   ANYDNS_BIN=.build/debug/anydns Lab/run-lab.sh
#
# Builds, with network namespaces and veth pairs only (nothing leaves the machine):
#
#   primary 192.0.2.53 (Knot DNS, hidden: not announced) --- 192.0.2.1 router
#   client 203.0.113.10 --- 203.0.113.1 router (BIRD, AS 65000; kernel table = best route)
#                                        | 198.51.100.1    | .2               | .3
#                                        | (point-to-point veths)
#                        site-a .11       site-b .12        site-c .13       (management addresses)
#                        lo 10.53.0.1     lo 10.53.0.1      lo 10.53.0.1     (the anycast address)
#                        anydns + ExaBGP healthcheck on /readyz, AS 65053, MED 100 / 200 / 300
#                        |  \                |  \
#                 mem-a1 10.80.1.1  mem-a2 .2   mem-b1 10.80.2.1  mem-b2 .2         (member hosts)
#
# plus the anycast service www.njust.edu.any. (Deploy/README.md "Anycast services and members"):
# its own anycast address 10.53.0.80 on every member's lo, a web server on port 80 in each member,
# two members behind site A and two behind site B, each running Deploy/anydns-member-agent.sh
# against its own site's anydns (join, session reports, leave); every site's ExaBGP announces
# 10.53.0.80/32 only while that site's /services/www.njust.edu.any/readyz is 200.
#
# then runs the scenario against a continuous query stream from the client to 10.53.0.1:
# converge on site A, planned drain of A (no query lost), kill -9 of B (C takes over; gap and
# losses measured), restore A and B, zone change + SIGHUP at every site (new serial everywhere),
# then the hidden primary: every site is a secondary of lab.test. from Knot DNS with TSIG; a
# change on the primary reaches every site by NOTIFY + IXFR (seconds to the last site measured),
# the primary unreachable for a while (the sites keep serving), and site A cut off from the
# primary until lab.test. expires there (A withdraws, 0 queries lost, B and C keep the route);
# then the members: they join (A and B announce 10.53.0.80/32, C does not), least-sessions
# answers follow the session counts the agents report (counts changed by holding TCP sessions
# from the client), every member of A leaves (A withdraws 10.53.0.80/32 but keeps 10.53.0.1/32;
# the time from the last leave to the withdrawal is measured; the client's connections to
# 10.53.0.80 reach B's members), and one member of A joins again (A announced again);
# and prints a table. Exit status 0 only if every expectation held. Everything it creates is
# removed on exit, whatever happens; running it again right away works.
#
# Environment knobs:
#   ANYDNS_BIN            the anydns binary (default .build/debug/anydns); copied before use
#   LAB_DIR               work directory with configs and logs (default /tmp/anydns-lab); kept
#   LAB_LAME_DUCK         anydns lame-duck seconds (default 5: withdrawal takes ~1 s)
#   LAB_MAX_GAP           kill -9 failover must complete within this many seconds (default 5)
#   LAB_BIRD_SITES        sites that announce with BIRD driven by Deploy/bird/anydns-health.sh
#                         instead of ExaBGP, e.g. "b" or "a b c" (default none: ExaBGP everywhere)
#   LAB_SKIP_INSTALL=1    do not apt-get install missing packages
#
# Layout. This file is the entry point: it reads the knobs above, sources the shared parts in
# Lab/lib/ (in the order below; they only define variables and functions), checks the
# prerequisites, sets the EXIT trap (lib/cleanup.sh: prints the table and removes everything,
# whichever way the run ends), builds and starts the lab, then sources one file of Lab/phases/
# per phase, in the order of the list at the end of this file, and last adds the query stream's
# rows and the total to the table (stream_verdict).
#   lib/settings.sh      addresses, names, keys, paths
#   lib/helpers.sh       log, die, now, elapsed, le, wait_for (polling with a deadline), in_ns
#   lib/report.sh        row, stream_row, note_at_end, print_table, stream_verdict
#   lib/cleanup.sh       kill_pids, remove_namespaces, cleanup (the EXIT trap)
#   lib/prerequisites.sh install_packages, prepare_anydns (a fresh LAB_DIR, the binary's copy)
#   lib/topology.sh      build_topology: namespaces, veths, addresses, static routes
#   lib/config.sh        write_configs: anydns.yaml, the zones, Knot's configuration; lab_zone
#   lib/daemons.sh       the pids of everything started; start_*: Knot, the router's BIRD, anydns
#                        and ExaBGP (or BIRD) at the sites, the members' web servers and agents;
#                        stop_agent, hold_sessions
#   lib/probes.sh        what polls and observations look at: readyz, routes, serials, members
#   lib/stream.sh        the client's query stream: start_stream, stream_wait, window, stop_stream
#
# A new phase is a new file Lab/phases/NN-name.sh plus its `source` line in that list
# (Lab/README.md, "Adding a phase"). A phase file is sourced, not run: it shares this shell, its
# strict mode and its variables, uses anything from Lab/lib/ and what the phases before it left,
# records its result with `row` (a check of its own) or `stream_row` (a row whose sent/lost come
# from the query stream, from the phase's action to the next stream_row's), stops the run with
# `die`, sets no trap, and records the pid of anything it starts in the background where cleanup
# finds it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DEPLOY=$REPO/Deploy
PY=/usr/bin/python3 # Debian's python3: python3-dnspython and ExaBGP are installed for it
LAB_DIR=${LAB_DIR:-/tmp/anydns-lab}
LAME_DUCK=${LAB_LAME_DUCK:-5}
MAX_GAP=${LAB_MAX_GAP:-5}
BIRD_SITES=" ${LAB_BIRD_SITES:-} "

source "$HERE/lib/settings.sh"
source "$HERE/lib/helpers.sh"
source "$HERE/lib/report.sh"
source "$HERE/lib/cleanup.sh"
source "$HERE/lib/prerequisites.sh"
source "$HERE/lib/topology.sh"
source "$HERE/lib/config.sh"
source "$HERE/lib/daemons.sh"
source "$HERE/lib/probes.sh"
source "$HERE/lib/stream.sh"

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, BGP port 179, DNS port 53)"
install_packages
prepare_anydns

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
remove_namespaces # leftovers of an interrupted earlier run

# ---------------------------------------------------------------- the lab
build_topology
write_configs
start_primary
start_router
start_member_webs
start_sites

# ---------------------------------------------------------------- the scenario
# One line per phase, in the order they run (a new phase: its file and a line here)
source "$HERE/phases/01-converge.sh"
source "$HERE/phases/02-identity.sh"
source "$HERE/phases/03-steady.sh"
source "$HERE/phases/04-drain.sh"
source "$HERE/phases/05-kill.sh"
source "$HERE/phases/06-restore.sh"
source "$HERE/phases/07-reload.sh"
source "$HERE/phases/08-primary-change.sh"
source "$HERE/phases/09-primary-down.sh"
source "$HERE/phases/10-expiry.sh"
source "$HERE/phases/11-members-join.sh"
source "$HERE/phases/12-least-sessions.sh"
source "$HERE/phases/13-members-leave.sh"
source "$HERE/phases/14-member-rejoin.sh"
source "$HERE/phases/15-member-dies.sh"
stream_verdict
