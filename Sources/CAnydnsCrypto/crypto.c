// OpenSSL 3 behind the small interface of anydns_crypto.h. EVP_MAC does both HMAC and SipHash, so
// the server links a single cryptography library, the one libldns already uses.

#include "anydns_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

struct anydns_hmac {
    EVP_MAC_CTX *context;
};

static EVP_MAC *hmac_method;
static EVP_MAC *siphash_method;
static pthread_once_t methods_once = PTHREAD_ONCE_INIT;

static void fetch_methods(void) {
    hmac_method = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    siphash_method = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_SIPHASH, NULL);
}

static const char *digest_name(anydns_digest digest) {
    switch (digest) {
    case ANYDNS_DIGEST_SHA1: return "SHA1";
    case ANYDNS_DIGEST_SHA256: return "SHA256";
    case ANYDNS_DIGEST_SHA384: return "SHA384";
    case ANYDNS_DIGEST_SHA512: return "SHA512";
    }
    return NULL;
}

anydns_hmac *anydns_hmac_new(anydns_digest digest, const uint8_t *key, size_t key_length) {
    pthread_once(&methods_once, fetch_methods);
    const char *name = digest_name(digest);
    if (hmac_method == NULL || name == NULL) return NULL;
    anydns_hmac *hmac = OPENSSL_malloc(sizeof *hmac);
    if (hmac == NULL) return NULL;
    hmac->context = EVP_MAC_CTX_new(hmac_method);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
        OSSL_PARAM_construct_end(),
    };
    // An empty key is legal for HMAC; OpenSSL wants a non-NULL pointer for it.
    static const uint8_t empty_key[1];
    if (hmac->context == NULL
        || !EVP_MAC_init(hmac->context, key_length > 0 ? key : empty_key, key_length, params)) {
        anydns_hmac_free(hmac);
        return NULL;
    }
    return hmac;
}

anydns_hmac *anydns_hmac_copy(const anydns_hmac *hmac) {
    anydns_hmac *copy = OPENSSL_malloc(sizeof *copy);
    if (copy == NULL) return NULL;
    copy->context = EVP_MAC_CTX_dup(hmac->context);
    if (copy->context == NULL) {
        OPENSSL_free(copy);
        return NULL;
    }
    return copy;
}

void anydns_hmac_free(anydns_hmac *hmac) {
    if (hmac == NULL) return;
    EVP_MAC_CTX_free(hmac->context);
    OPENSSL_free(hmac);
}

void anydns_hmac_update(anydns_hmac *hmac, const void *bytes, size_t length) {
    if (length > 0) EVP_MAC_update(hmac->context, bytes, length);
}

size_t anydns_hmac_final(const anydns_hmac *hmac, uint8_t *output) {
    EVP_MAC_CTX *copy = EVP_MAC_CTX_dup(hmac->context);
    size_t length = 0;
    if (copy == NULL || !EVP_MAC_final(copy, output, &length, 64)) length = 0;
    EVP_MAC_CTX_free(copy);
    return length;
}

// SipHash contexts per thread, one per key in use (the rate-limit table's key, the current and
// the previous cookie secret): each is keyed once, and every later call with the same key only
// restores the keyed state (EVP_MAC_init with no key), which is several times cheaper than
// keying again. Made on a thread's first calls, never freed while the thread serves: the
// per-packet path allocates nothing.
#define SIPHASH_SLOTS 4

struct siphash_slot {
    EVP_MAC_CTX *context;
    uint8_t key[16];
    int keyed;
};

static _Thread_local struct siphash_slot siphash_slots[SIPHASH_SLOTS];
static _Thread_local unsigned siphash_next_slot;

/// The slot keyed with `key`, keying the oldest one when none is; NULL if OpenSSL fails.
static struct siphash_slot *siphash_slot_for(const uint8_t key[16]) {
    for (unsigned index = 0; index < SIPHASH_SLOTS; index++) {
        struct siphash_slot *slot = &siphash_slots[index];
        if (slot->keyed && CRYPTO_memcmp(slot->key, key, 16) == 0) {
            return EVP_MAC_init(slot->context, NULL, 0, NULL) ? slot : NULL;
        }
    }
    struct siphash_slot *slot = &siphash_slots[siphash_next_slot++ % SIPHASH_SLOTS];
    if (slot->context == NULL) {
        if (siphash_method == NULL) return NULL;
        slot->context = EVP_MAC_CTX_new(siphash_method);
        if (slot->context == NULL) return NULL;
    }
    size_t size = 8;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
        OSSL_PARAM_construct_end(),
    };
    slot->keyed = 0;
    if (!EVP_MAC_init(slot->context, key, 16, params)) return NULL;
    memcpy(slot->key, key, 16);
    slot->keyed = 1;
    return slot;
}

int anydns_siphash24(uint8_t output[8], const void *bytes, size_t length, const uint8_t key[16]) {
    pthread_once(&methods_once, fetch_methods);
    struct siphash_slot *slot = siphash_slot_for(key);
    size_t written = 0;
    if (slot == NULL || !EVP_MAC_update(slot->context, bytes, length)
        || !EVP_MAC_final(slot->context, output, &written, 8) || written != 8) {
        return -1;
    }
    return 0;
}

int anydns_random_bytes(void *output, size_t length) {
    return RAND_bytes(output, (int)length) == 1 ? 0 : -1;
}

int anydns_constant_time_compare(const void *left, const void *right, size_t length) {
    return CRYPTO_memcmp(left, right, length);
}
