#include "CTLSSupport.h"
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>
#include <sched.h>
#include <openssl/crypto.h>

// Mozilla "intermediate": TLS 1.2 with ECDHE and AEAD only (ECDSA and RSA certificates).
static const char *TLS12_CIPHERS =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char *TLS13_SUITES =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char h11[] = { 8, 'h','t','t','p','/','1','.','1' };
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof h11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK; // a client offering only h2 still gets HTTP/1.1 without ALPN
}

int CTLS_configure_server(SSL_CTX *ctx) {
    // SSLv3, TLS 1.0 and 1.1 are refused: their handshakes fail.
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) return 0;
    if (!SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) return 0;
    if (!SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) return 0;
    if (!SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES)) return 0;
    if (!SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384")) return 0;
    // No renegotiation (CVE-2009-3555 class, and CPU DoS); no compression (CRIME).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Stateless tickets only: no server-side session cache to grow or lock.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    // Read whole socket contents at once, not a 5-byte record header and then the record.
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    CTLS_ticket_keys_install(ctx);
    return 1;
}

int CTLS_configure_client(SSL_CTX *ctx, const char *ca_file) {
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) return 0;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file && *ca_file) return SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1;
    return SSL_CTX_set_default_verify_paths(ctx) == 1;
}

// MARK: SNI

struct entry { char *name; SSL_CTX *ctx; };
struct CTLS_sni_map { struct entry *e; size_t n, cap; };

CTLS_sni_map *CTLS_sni_map_new(void) { return calloc(1, sizeof(CTLS_sni_map)); }

int CTLS_sni_map_add(CTLS_sni_map *m, const char *name, SSL_CTX *ctx) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct entry *e = realloc(m->e, cap * sizeof *e);
        if (!e) return 0;
        m->e = e; m->cap = cap;
    }
    m->e[m->n].name = strdup(name);
    m->e[m->n].ctx = ctx;
    SSL_CTX_up_ref(ctx);
    m->n++;
    return 1;
}

void CTLS_sni_map_free(CTLS_sni_map *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) { free(m->e[i].name); SSL_CTX_free(m->e[i].ctx); }
    free(m->e); free(m);
}

int CTLS_sni_map_add_certificate_names(CTLS_sni_map *m, SSL_CTX *ctx) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (!cert) return 0;
    int added = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
            if (gn->type != GEN_DNS) continue;
            const unsigned char *d = ASN1_STRING_get0_data(gn->d.dNSName);
            int len = ASN1_STRING_length(gn->d.dNSName);
            char buf[256];
            if (len <= 0 || len >= (int)sizeof buf || memchr(d, 0, (size_t)len)) continue;
            memcpy(buf, d, (size_t)len); buf[len] = 0;
            if (CTLS_sni_map_add(m, buf, ctx)) added++;
        }
        GENERAL_NAMES_free(names);
        return added;
    }
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
        if (CTLS_sni_map_add(m, cn, ctx)) added++;
    return added;
}

void CTLS_disable_tickets(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    // With SSL_OP_NO_TICKET, TLS 1.3 would still send stateful tickets naming a session cache
    // that is off: tickets that can never resume. Send none.
    SSL_CTX_set_num_tickets(ctx, 0);
}

static SSL_CTX *sni_lookup(CTLS_sni_map *m, const char *host) {
    for (size_t i = 0; i < m->n; i++)
        if (strcasecmp(m->e[i].name, host) == 0) return m->e[i].ctx;
    const char *dot = strchr(host, '.');
    if (!dot) return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const char *n = m->e[i].name;
        if (n[0] == '*' && n[1] == '.' && strcasecmp(n + 1, dot) == 0) return m->e[i].ctx;
    }
    return NULL;
}

int CTLS_sni_map_covers(CTLS_sni_map *m, const char *host) { return sni_lookup(m, host) != NULL; }

int CTLS_certificate_covers_ip(SSL_CTX *ctx, const char *ip) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    return cert && X509_check_ip_asc(cert, ip, 0) == 1;
}

static int servername_cb(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!host) return SSL_TLSEXT_ERR_NOACK; // no SNI: the default certificate answers
    SSL_CTX *ctx = sni_lookup((CTLS_sni_map *)arg, host);
    if (ctx && ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}

void CTLS_sni_attach(SSL_CTX *default_ctx, CTLS_sni_map *map) {
    SSL_CTX_set_tlsext_servername_callback(default_ctx, servername_cb);
    SSL_CTX_set_tlsext_servername_arg(default_ctx, map);
}

// MARK: Session ticket keys

// A ring of three keys: the newest encrypts, the two before it still decrypt (a ticket lives 2-3
// rotation periods). Seqlock: the rotating thread makes `seq` odd, writes the oldest slot, makes
// it even again; a handshake copies the whole ring with atomic loads and retries if `seq` moved,
// so no thread ever uses a half-written key, however long it stalls. seq / 2 = rotations done.
#define TICKET_KEYS 3
#define TICKET_KEY_WORDS 10 // name 16 + AES 32 + HMAC 32 bytes
struct ticket_key { unsigned char name[16], aes[32], hmac[32]; };
_Static_assert(sizeof(struct ticket_key) == TICKET_KEY_WORDS * 8, "ticket key is 10 words");
static _Atomic uint64_t ring[TICKET_KEYS][TICKET_KEY_WORDS];
static _Atomic uint64_t seq;
static pthread_mutex_t rotating = PTHREAD_MUTEX_INITIALIZER; // writers only; readers never wait on it

struct ticket_ring { struct ticket_key key[TICKET_KEYS]; int count, current; };

/// A consistent copy of the ring; 0 before the first key.
static int ticket_ring_read(struct ticket_ring *r) {
    for (;;) {
        uint64_t before = atomic_load_explicit(&seq, memory_order_acquire);
        if (before == 0) return 0;
        if (before & 1) { sched_yield(); continue; } // a rotation is writing (microseconds)
        uint64_t words[TICKET_KEYS][TICKET_KEY_WORDS];
        for (int i = 0; i < TICKET_KEYS; i++)
            for (int w = 0; w < TICKET_KEY_WORDS; w++)
                words[i][w] = atomic_load_explicit(&ring[i][w], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&seq, memory_order_relaxed) != before) continue; // torn: again
        memcpy(r->key, words, sizeof words);
        OPENSSL_cleanse(words, sizeof words);
        uint64_t rotations = before / 2;
        r->count = rotations < TICKET_KEYS ? (int)rotations : TICKET_KEYS;
        r->current = (int)((rotations - 1) % TICKET_KEYS);
        return 1;
    }
}

static int ticket_keys_rotate_locked(void) {
    struct ticket_key k;
    if (RAND_bytes(k.name, 16) != 1 || RAND_priv_bytes(k.aes, 32) != 1 ||
        RAND_priv_bytes(k.hmac, 32) != 1) return 0;
    uint64_t words[TICKET_KEY_WORDS];
    memcpy(words, &k, sizeof words);
    uint64_t s = atomic_load_explicit(&seq, memory_order_relaxed);
    int slot = (int)((s / 2) % TICKET_KEYS); // the oldest key, or an empty slot
    atomic_store_explicit(&seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (int w = 0; w < TICKET_KEY_WORDS; w++) atomic_store_explicit(&ring[slot][w], words[w], memory_order_relaxed);
    atomic_store_explicit(&seq, s + 2, memory_order_release);
    OPENSSL_cleanse(&k, sizeof k);
    OPENSSL_cleanse(words, sizeof words);
    return 1;
}

int CTLS_ticket_keys_rotate(void) {
    pthread_mutex_lock(&rotating);
    int ok = ticket_keys_rotate_locked();
    pthread_mutex_unlock(&rotating);
    return ok;
}

// Test hook: DRAWBRIDGE_TEST_TICKET_ROTATION_MS=N rotates every N ms on a thread of its own and
// logs each rotation, so that the tests can rotate while handshakes run and watch a ticket outlive
// one rotation. Not documented for operators (tls.ticketKeyRotationSeconds is the setting).
static void *rotation_thread(void *arg) {
    long ms = (long)(intptr_t)arg;
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    for (;;) {
        nanosleep(&t, NULL);
        if (CTLS_ticket_keys_rotate())
            fprintf(stderr, "drawbridge: test: session ticket keys rotated (%llu)\n",
                    (unsigned long long)(atomic_load(&seq) / 2));
    }
    return NULL;
}

static void start_test_rotation(void) {
    const char *v = getenv("DRAWBRIDGE_TEST_TICKET_ROTATION_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms <= 0) return;
    pthread_t t;
    if (pthread_create(&t, NULL, rotation_thread, (void *)(intptr_t)ms) == 0) pthread_detach(t);
}

static int ticket_cb(SSL *s, unsigned char key_name[16], unsigned char *iv,
                     EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc) {
    struct ticket_ring r;
    if (!ticket_ring_read(&r)) return -1;
    int result = -1, found = -1;
    if (enc) {
        found = r.current;
        memcpy(key_name, r.key[found].name, 16);
        if (RAND_bytes(iv, 16) != 1) goto done;
    } else {
        for (int i = 0; i < r.count; i++)
            if (memcmp(r.key[i].name, key_name, 16) == 0) { found = i; break; }
        if (found < 0) { result = 0; goto done; } // unknown or expired key: full handshake
    }
    struct ticket_key *k = &r.key[found];
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac, 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_CTX_set_params(hctx, params)) goto done;
    if (enc) {
        if (EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv)) result = 1;
        goto done;
    }
    if (!EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv)) goto done;
    // 2: accept and issue a fresh ticket (under the current key). Always in TLS 1.3, so that a
    // client never uses one ticket twice (RFC 8446 C.4: reuse links its connections; nginx does
    // the same); in TLS 1.2 when the ticket's key is no longer the current one.
    result = (SSL_version(s) >= TLS1_3_VERSION || found != r.current) ? 2 : 1;
done:
    OPENSSL_cleanse(&r, sizeof r);
    return result;
}

void CTLS_ticket_keys_install(SSL_CTX *ctx) {
    pthread_mutex_lock(&rotating);
    int first = atomic_load(&seq) == 0;
    if (first) ticket_keys_rotate_locked();
    pthread_mutex_unlock(&rotating);
    if (first) start_test_rotation();
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
}

void CTLS_last_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    if (e == 0) { snprintf(buf, len, "unknown TLS error"); return; }
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}
