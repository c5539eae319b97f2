/* auth.c - the bearer token and TLS files: loading them at start-up and
 * deciding, per request, whether the Authorization header lets it in.
 *
 * Files are read whole, bounded (BGS_TOKEN_MAX, BGS_PEM_MAX), before the
 * daemon starts; a missing, unreadable, empty or malformed file stops the
 * start. The token comparison touches every byte of the token whatever the
 * client sent, so its timing tells nothing about how much matched. */
#include "server/auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Read at most max bytes of path into a malloc'd NUL-terminated buffer.
 * Returns NULL (with errno) on failure, or when the file is larger
 * (errno EFBIG). */
static char *read_bounded(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 2);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed || n > max) {
        free(buf);
        errno = failed ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int token_chars_ok(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return 0;
    }
    return n > 0;
}

static int load_token(bgs_auth *a, const char *path, FILE *err)
{
    size_t n = 0;
    char *t = read_bounded(path, BGS_TOKEN_MAX, &n);
    if (t == NULL) {
        fprintf(err, "beamgrid: cannot read --token-file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
        t[--n] = '\0';
    if (!token_chars_ok(t, n)) {
        fprintf(err,
                "beamgrid: --token-file %s must hold one token of visible "
                "ASCII (it is %s)\n",
                path, n == 0 ? "empty" : "not");
        free(t);
        return -1;
    }
    a->token = t;
    a->token_len = n;
    return 0;
}

static char *load_pem(const char *flag, const char *path, FILE *err)
{
    size_t n = 0;
    char *pem = read_bounded(path, BGS_PEM_MAX, &n);
    if (pem == NULL || n == 0) {
        fprintf(err, "beamgrid: cannot read %s %s: %s\n", flag, path,
                pem ? "empty file" : strerror(errno));
        free(pem);
        return NULL;
    }
    return pem;
}

int bgs_auth_load(bgs_auth *a, const bgs_config *cfg, FILE *err)
{
    memset(a, 0, sizeof *a);
    a->metrics_auth = cfg->metrics_auth != 0;
    if (cfg->token_file[0] != '\0' && load_token(a, cfg->token_file, err) != 0)
        return -1;
    if (cfg->tls_cert[0] != '\0') {
        a->tls_cert = load_pem("--tls-cert", cfg->tls_cert, err);
        a->tls_key =
            a->tls_cert ? load_pem("--tls-key", cfg->tls_key, err) : NULL;
        if (a->tls_key == NULL) {
            bgs_auth_free(a);
            return -1;
        }
    }
    return 0;
}

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    volatile char *v = s;
    while (*v != '\0')
        *v++ = '\0';
    free(s);
}

void bgs_auth_free(bgs_auth *a)
{
    wipe_free(a->token);
    wipe_free(a->tls_key);
    free(a->tls_cert);
    memset(a, 0, sizeof *a);
}

bool bgs_auth_token_equals(const bgs_auth *a, const char *s, size_t n)
{
    if (a->token == NULL)
        return false;
    volatile unsigned char diff = n != a->token_len;
    for (size_t i = 0; i < a->token_len; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : 0;
        diff |= c ^ (unsigned char)a->token[i];
    }
    return diff == 0;
}

/* The credentials of "Bearer <token>" (scheme case-insensitive), or
 * NULL. */
static const char *bearer(const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    return t;
}

static bool needs_token(const bgs_auth *a, const bgapi_route *route,
                        const char *path)
{
    if (route->id == BGAPI_ROUTE_METRICS)
        return a->metrics_auth;
    if (route->id == BGAPI_ROUTE_HEALTHZ || route->id == BGAPI_ROUTE_READYZ ||
        route->id == BGAPI_ROUTE_OPENAPI)
        return false;
    return path != NULL && strncmp(path, "/v1", 3) == 0 &&
           (path[3] == '/' || path[3] == '\0');
}

bool bgs_auth_allows(const bgs_auth *a, const bgapi_route *route,
                     const char *path, const char *authorization)
{
    if (a->token == NULL || !needs_token(a, route, path))
        return true;
    const char *t = bearer(authorization);
    if (t == NULL)
        return false;
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == ' ')
        n--;
    return bgs_auth_token_equals(a, t, n);
}
