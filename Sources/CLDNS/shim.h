/* libldns, by NLnet Labs: zone-file parsing for anydns (Debian package libldns-dev). */
#include <ldns/ldns.h>
