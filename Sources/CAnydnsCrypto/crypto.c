// OpenSSL 3 behind the small interface of anydns_crypto.h. EVP_MAC does both HMAC and SipHash, so
// the server links a single cryptography library, the one libldns already uses.

#include "anydns_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>

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

// One SipHash context per thread, made on the thread's first call and re-keyed on each call:
// EVP_MAC_init of SipHash allocates nothing, so the per-packet path stays allocation-free.
static _Thread_local EVP_MAC_CTX *thread_siphash;

int anydns_siphash24(uint8_t output[8], const void *bytes, size_t length, const uint8_t key[16]) {
    pthread_once(&methods_once, fetch_methods);
    if (thread_siphash == NULL) {
        if (siphash_method == NULL) return -1;
        thread_siphash = EVP_MAC_CTX_new(siphash_method);
        if (thread_siphash == NULL) return -1;
    }
    size_t size = 8;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
        OSSL_PARAM_construct_end(),
    };
    size_t written = 0;
    if (!EVP_MAC_init(thread_siphash, key, 16, params)
        || !EVP_MAC_update(thread_siphash, bytes, length)
        || !EVP_MAC_final(thread_siphash, output, &written, 8) || written != 8) {
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
