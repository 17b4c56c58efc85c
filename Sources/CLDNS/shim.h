/* libldns, by NLnet Labs: zone-file parsing for anydns (Debian package libldns-dev), and
 * OpenSSL's SHA-1, which libldns links too, for NSEC3 owner hashes (RFC 5155 §5). */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <ldns/ldns.h>

/* SHA-1 of `length` octets into `digest` (20 octets), with the context on the stack: no
 * allocation, unlike OpenSSL 3's one-shot SHA1(), which fetches an implementation per call. */
static inline void anydns_sha1(const void *data, size_t length, unsigned char *digest) {
    SHA_CTX context;
    SHA1_Init(&context);
    SHA1_Update(&context, data, length);
    SHA1_Final(digest, &context);
}
