// The project's one cryptography stack: Debian's OpenSSL 3 (libcrypto), patched by apt on every
// site. HMAC for TSIG (RFC 8945), SipHash-2-4 for server cookies (RFC 9018) and the rate-limit
// table, and the operating system's random source through OpenSSL's DRBG. docs/ARCHITECTURE.md
// ("One cryptography stack") says why one library instead of three.

#ifndef ANYDNS_CRYPTO_H
#define ANYDNS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/// The digests TSIG uses (RFC 8945 §6): the values match `TSIGAlgorithm.Hash`.
typedef enum {
    ANYDNS_DIGEST_SHA1 = 1,
    ANYDNS_DIGEST_SHA256 = 2,
    ANYDNS_DIGEST_SHA384 = 3,
    ANYDNS_DIGEST_SHA512 = 4,
} anydns_digest;

/// A running HMAC (OpenSSL EVP_MAC "HMAC"). Not thread-safe; one per message being signed.
typedef struct anydns_hmac anydns_hmac;

/// A new HMAC keyed with `key`; NULL only if OpenSSL cannot allocate or lacks the digest.
anydns_hmac *anydns_hmac_new(anydns_digest digest, const uint8_t *key, size_t key_length);
/// An independent copy of the running state (value semantics for the Swift wrapper).
anydns_hmac *anydns_hmac_copy(const anydns_hmac *hmac);
void anydns_hmac_free(anydns_hmac *hmac);
void anydns_hmac_update(anydns_hmac *hmac, const void *bytes, size_t length);
/// Writes the MAC of a copy of the state into `output` (at least 64 octets) and returns its
/// length, so the running state can still be fed; 0 on failure.
size_t anydns_hmac_final(const anydns_hmac *hmac, uint8_t *output);

/// SipHash-2-4 with a 64-bit output (the reference function's, little-endian in `output`) of
/// `length` octets under a 16-octet key. Allocates nothing after the calling thread's first call.
/// Returns 0 on success.
int anydns_siphash24(uint8_t output[8], const void *bytes, size_t length, const uint8_t key[16]);

/// Fills `output` from OpenSSL's random generator (seeded by the operating system). Returns 0 on
/// success.
int anydns_random_bytes(void *output, size_t length);

/// Compares `length` octets in time that depends only on the length; 0 when equal.
int anydns_constant_time_compare(const void *left, const void *right, size_t length);

#endif
