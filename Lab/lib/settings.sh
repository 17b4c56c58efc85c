# shellcheck shell=bash
# The lab's fixed facts: addresses, names, keys, paths. Sourced by Lab/run-lab.sh after the
# environment knobs (LAB_DIR, LAME_DUCK, MAX_GAP, BIRD_SITES) are read; defines variables only.
# shellcheck disable=SC2034 # the variables are used by the other files of the lab

ANYCAST=10.53.0.1
CLIENT_ADDR=203.0.113.10
CLIENT_GW=203.0.113.1
STREAM_INTERVAL=0.02
STREAM_TIMEOUT=0.3

SITES=(a b c)
NAMESPACES=(router client primary site-a site-b site-c mem-a1 mem-a2 mem-b1 mem-b2)
PRIMARY=192.0.2.53
PRIMARY_GW=192.0.2.1
COOKIE_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')  # every site's cookies.secret
TSIG_SECRET=K2tf3TRjvQkVCmJF3/Z9vA==
# lab.test.'s SOA timers: refresh 2 s, retry 1 s, expire 12 s, so expiry fits in the lab's time
LAB_REFRESH=2 LAB_RETRY=1 LAB_EXPIRE=12
declare -A MGMT=([a]=198.51.100.11 [b]=198.51.100.12 [c]=198.51.100.13) # site's own address
declare -A RTR=([a]=198.51.100.1 [b]=198.51.100.2 [c]=198.51.100.3)     # router end of its link
declare -A MED=([a]=100 [b]=200 [c]=300)                                # lower MED wins
# The anycast service and its members (Deploy/README.md "Anycast services and members")
SERVICE=www.njust.edu.any.
SERVICE_ANYCAST=10.53.0.80 # in Zones/any.zone too: the answer when a site has no reachable member
SERVICE_PORT=80            # the members' web servers; anydns probes it (probe: tcp:80)
MEMBER_KEY_NAME=www-members # the service's TSIG key (RFC 8945) for the members' updates
MEMBER_KEY_SECRET=$(head -c 32 /dev/urandom | base64)
MEMBER_INTERVAL=1 # seconds between an agent's reports
MEMBER_LEASE=5    # seconds without a report before anydns drops a member
MEMBERS=(a1 a2 b1 b2)
declare -A MEMBER_SITE=([a1]=a [a2]=a [b1]=b [b2]=b)
declare -A MEMBER_ADDR=([a1]=10.80.1.1 [a2]=10.80.1.2 [b1]=10.80.2.1 [b2]=10.80.2.2)
declare -A MEMBER_GW=([a1]=10.80.1.101 [a2]=10.80.1.102 [b1]=10.80.2.101 [b2]=10.80.2.102) # site end
declare -A MEMBER_NET=([a]=10.80.1.0/24 [b]=10.80.2.0/24)                                  # per site
STREAM_OUT=$LAB_DIR/client/stream.tsv
