/* auth.h - who may ask what: the bearer token and the TLS material.
 *
 * Loaded once at start-up from the files the settings name (--token-file,
 * --tls-cert, --tls-key) and read-only afterwards, so any thread may ask.
 * Without a token every route is open; with one, /v1/... needs
 * "Authorization: Bearer <token>" (compared in constant time), /metrics
 * too if --metrics-auth, and /healthz, /readyz, /openapi.yaml never. */
#ifndef BGS_AUTH_H
#define BGS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "api/routes.h"
#include "server/config.h"

#define BGS_TOKEN_MAX 4096      /* bytes of a token file */
#define BGS_PEM_MAX   (1 << 20) /* bytes of a certificate or key file */

typedef struct {
    char *token; /* owned, NUL-terminated; NULL: no token required */
    size_t token_len;
    bool metrics_auth;
    char *tls_cert; /* owned PEM text; both NULL: plain HTTP */
    char *tls_key;
} bgs_auth;

/* Fill *a from cfg's files. A token file must hold one token of visible
 * ASCII (trailing CR/LF stripped); certificate and key files must be
 * readable and non-empty. Returns 0, or -1 after one line on err naming
 * the file (*a is then empty). */
int bgs_auth_load(bgs_auth *a, const bgs_config *cfg, FILE *err);

/* Free what bgs_auth_load read (the key is wiped first). */
void bgs_auth_free(bgs_auth *a);

/* Whether a request for `path` (routed as *route) carrying this
 * Authorization header value (may be NULL) may proceed. */
bool bgs_auth_allows(const bgs_auth *a, const bgapi_route *route,
                     const char *path, const char *authorization);

/* Whether s (n bytes) equals the token, in time that depends only on the
 * token's length. False without a token. */
bool bgs_auth_token_equals(const bgs_auth *a, const char *s, size_t n);

#endif
