// TLS policy and callbacks that are simplest and safest in C: the server context profile
// (Mozilla intermediate, TLS 1.2/1.3 only), SNI selection, ALPN, and rotating ticket keys.
#ifndef CTLSSUPPORT_H
#define CTLSSUPPORT_H
#include <openssl/ssl.h>

/// Applies the server profile to ctx. Returns 1 on success.
int CTLS_configure_server(SSL_CTX *ctx);
/// Applies the upstream-client profile: verify peer against ca_file (or the system store when NULL).
int CTLS_configure_client(SSL_CTX *ctx, const char *ca_file);

typedef struct CTLS_sni_map CTLS_sni_map;
CTLS_sni_map *CTLS_sni_map_new(void);
/// name: exact host or "*.suffix" (one label). The map holds a reference to ctx.
int CTLS_sni_map_add(CTLS_sni_map *map, const char *name, SSL_CTX *ctx);
/// Installs the map as the servername callback of default_ctx (which must outlive no map).
void CTLS_sni_attach(SSL_CTX *default_ctx, CTLS_sni_map *map);
void CTLS_sni_map_free(CTLS_sni_map *map);
/// Adds every DNS subjectAltName (or, without SANs, the subject CN) of ctx's certificate.
/// Returns how many names were added.
int CTLS_sni_map_add_certificate_names(CTLS_sni_map *map, SSL_CTX *ctx);
/// Whether the map selects a certificate for host (exact name, or "*.suffix" for one label):
/// the names the HTTPS listener presents a certificate of its own for.
int CTLS_sni_map_covers(CTLS_sni_map *map, const char *host);
/// Whether ctx's certificate has an IP address subjectAltName equal to ip (text, no brackets).
int CTLS_certificate_covers_ip(SSL_CTX *ctx, const char *ip);
/// Turns session tickets off (SSL_OP_NO_TICKET, and no TLS 1.3 tickets at all).
void CTLS_disable_tickets(SSL_CTX *ctx);

/// Session ticket keys, shared by every server context of the process. Rotate generates a new
/// current key; the previous two stay valid for decryption (so a ticket lives 2-3 periods).
/// Safe while handshakes run on other threads (a seqlock: see tls_support.c).
int CTLS_ticket_keys_rotate(void);
void CTLS_ticket_keys_install(SSL_CTX *ctx);

/// The last OpenSSL error as text in buf (always NUL-terminated).
void CTLS_last_error(char *buf, size_t len);
#endif
