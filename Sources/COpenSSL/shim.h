// The system OpenSSL 3 (Debian libssl-dev). Macros that Swift cannot import are wrapped here.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/crypto.h>

static inline long COpenSSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline int COpenSSL_ERROR_WANT_READ(void) { return SSL_ERROR_WANT_READ; }
static inline int COpenSSL_ERROR_WANT_WRITE(void) { return SSL_ERROR_WANT_WRITE; }
static inline int COpenSSL_ERROR_ZERO_RETURN(void) { return SSL_ERROR_ZERO_RETURN; }
static inline int COpenSSL_ERROR_SYSCALL(void) { return SSL_ERROR_SYSCALL; }
static inline int COpenSSL_TLS1_1_VERSION(void) { return TLS1_1_VERSION; }
static inline int COpenSSL_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline int COpenSSL_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }
static inline long COpenSSL_CTX_set_min_proto(SSL_CTX *ctx, int v) { return SSL_CTX_set_min_proto_version(ctx, v); }
static inline long COpenSSL_CTX_set_max_proto(SSL_CTX *ctx, int v) { return SSL_CTX_set_max_proto_version(ctx, v); }
static inline long COpenSSL_set_min_proto(SSL *ssl, int v) { return SSL_set_min_proto_version(ssl, v); }
static inline long COpenSSL_set_max_proto(SSL *ssl, int v) { return SSL_set_max_proto_version(ssl, v); }
static inline long COpenSSL_session_reused(SSL *ssl) { return SSL_session_reused(ssl); }
static inline const char *COpenSSL_servername(const SSL *ssl) { return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name); }
// DrawbridgeCrypto: composite macros Swift cannot import.
static inline int COpenSSL_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int COpenSSL_EVP_CTRL_GCM_GET_TAG(void) { return EVP_CTRL_GCM_GET_TAG; }
static inline int COpenSSL_EVP_CTRL_GCM_SET_TAG(void) { return EVP_CTRL_GCM_SET_TAG; }
static inline int COpenSSL_EVP_CTRL_GCM_SET_IVLEN(void) { return EVP_CTRL_GCM_SET_IVLEN; }
#endif
