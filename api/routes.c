/* routes.c - the route table: method and path to a handler id, a route
 * template (its label for metrics and logs), and the Allow value for 405.
 * Exact path matches only (no trailing slash, no normalization); the one
 * parameter, {id} of /v1/sources/{id}, must be 1..BGAPI_ID_MAX base64url
 * characters. */
#include "api/routes.h"

#include <string.h>

#define ALLOW_GET  "GET, HEAD"
#define ALLOW_POST "POST"

/* Indexed by bgapi_route_template: the only route labels there are. */
static const char *const TEMPLATE_LABELS[BGAPI_TEMPLATE_COUNT] = {
    [BGAPI_TEMPLATE_OTHER] = "other",
    [BGAPI_TEMPLATE_SOURCES] = "/v1/sources",
    [BGAPI_TEMPLATE_SOURCES_ID] = "/v1/sources/{id}",
    [BGAPI_TEMPLATE_HEALTHZ] = "/healthz",
    [BGAPI_TEMPLATE_READYZ] = "/readyz",
    [BGAPI_TEMPLATE_METRICS] = "/metrics",
    [BGAPI_TEMPLATE_OPENAPI] = "/openapi.yaml",
    [BGAPI_TEMPLATE_PAGE] = "/",
};

static const struct {
    bgapi_route_template template; /* its label is the path */
    bgapi_route_id id;
} fixed_routes[] = {
    {BGAPI_TEMPLATE_SOURCES, BGAPI_ROUTE_SOURCES_POST},
    {BGAPI_TEMPLATE_HEALTHZ, BGAPI_ROUTE_HEALTHZ},
    {BGAPI_TEMPLATE_READYZ, BGAPI_ROUTE_READYZ},
    {BGAPI_TEMPLATE_METRICS, BGAPI_ROUTE_METRICS},
    {BGAPI_TEMPLATE_OPENAPI, BGAPI_ROUTE_OPENAPI},
    {BGAPI_TEMPLATE_PAGE, BGAPI_ROUTE_PAGE},
};

const char *bgapi_route_template_label(bgapi_route_template t)
{
    if ((unsigned)t >= BGAPI_TEMPLATE_COUNT)
        return TEMPLATE_LABELS[BGAPI_TEMPLATE_OTHER];
    return TEMPLATE_LABELS[t];
}

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
    out->template = BGAPI_TEMPLATE_OTHER;
    out->label = TEMPLATE_LABELS[BGAPI_TEMPLATE_OTHER];
    out->allow = "";
    out->sources_id = "";
    out->sources_id_len = 0;
    if (method == NULL || path == NULL)
        return;
    size_t n;
    if (match_sources_id(path, &n)) {
        out->template = BGAPI_TEMPLATE_SOURCES_ID;
        out->label = TEMPLATE_LABELS[BGAPI_TEMPLATE_SOURCES_ID];
        out->allow = ALLOW_GET;
        if (!is_get(method)) {
            out->id = BGAPI_ROUTE_METHOD_NOT_ALLOWED;
            return;
        }
        out->id = BGAPI_ROUTE_SOURCES_GET;
        out->sources_id = path + strlen("/v1/sources/");
        out->sources_id_len = n;
        return;
    }
    for (size_t i = 0; i < sizeof fixed_routes / sizeof fixed_routes[0]; i++) {
        const char *label = TEMPLATE_LABELS[fixed_routes[i].template];
        if (strcmp(path, label) != 0)
            continue;
        int post = fixed_routes[i].id == BGAPI_ROUTE_SOURCES_POST;
        out->template = fixed_routes[i].template;
        out->label = label;
        out->allow = post ? ALLOW_POST : ALLOW_GET;
        int ok = post ? strcmp(method, "POST") == 0 : is_get(method);
        out->id = ok ? fixed_routes[i].id : BGAPI_ROUTE_METHOD_NOT_ALLOWED;
        return;
    }
}
