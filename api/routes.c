/* routes.c - the route table: method and path to a handler id, a label
 * for metrics and logs, and the Allow value for 405. Exact path matches
 * only (no trailing slash, no normalization); the one parameter, {id} of
 * /v1/sources/{id}, must be 1..BGAPI_ID_MAX base64url characters. */
#include "api/routes.h"

#include <string.h>

#define ALLOW_GET  "GET, HEAD"
#define ALLOW_POST "POST"

static const struct {
    const char *path;
    bgapi_route_id id;
} fixed_routes[] = {
    {"/v1/sources", BGAPI_ROUTE_SOURCES_POST},
    {"/healthz", BGAPI_ROUTE_HEALTHZ},
    {"/readyz", BGAPI_ROUTE_READYZ},
    {"/metrics", BGAPI_ROUTE_METRICS},
    {"/openapi.yaml", BGAPI_ROUTE_OPENAPI},
};

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The id of /v1/sources/{id}: 1 and its length in *n if path is of that
 * form with a well-formed id, else 0. */
static int match_sources_id(const char *path, size_t *n)
{
    static const char prefix[] = "/v1/sources/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *id = path + sizeof prefix - 1;
    size_t i = 0;
    while (i <= BGAPI_ID_MAX && id[i] != '\0' && is_b64url(id[i]))
        i++;
    if (i == 0 || i > BGAPI_ID_MAX || id[i] != '\0')
        return 0;
    *n = i;
    return 1;
}

static int is_get(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

void bgapi_route_match(const char *method, const char *path, bgapi_route *out)
{
    out->id = BGAPI_ROUTE_NOT_FOUND;
    out->label = "other";
    out->allow = "";
    out->sources_id[0] = '\0';
    if (method == NULL || path == NULL)
        return;
    size_t n;
    if (match_sources_id(path, &n)) {
        out->label = "/v1/sources/{id}";
        out->allow = ALLOW_GET;
        if (!is_get(method)) {
            out->id = BGAPI_ROUTE_METHOD_NOT_ALLOWED;
            return;
        }
        out->id = BGAPI_ROUTE_SOURCES_GET;
        memcpy(out->sources_id, path + strlen("/v1/sources/"), n);
        out->sources_id[n] = '\0';
        return;
    }
    for (size_t i = 0; i < sizeof fixed_routes / sizeof fixed_routes[0]; i++) {
        if (strcmp(path, fixed_routes[i].path) != 0)
            continue;
        int post = fixed_routes[i].id == BGAPI_ROUTE_SOURCES_POST;
        out->label = fixed_routes[i].path;
        out->allow = post ? ALLOW_POST : ALLOW_GET;
        int ok = post ? strcmp(method, "POST") == 0 : is_get(method);
        out->id = ok ? fixed_routes[i].id : BGAPI_ROUTE_METHOD_NOT_ALLOWED;
        return;
    }
}
