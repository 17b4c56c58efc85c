/* libsodium (Debian package libsodium-dev): SipHash-2-4 for DNS server cookies (RFC 9018) and
   for the keyed hash of the response rate limiting table. */
#include <sodium.h>
