/* routes.h - which handler a method and path go to.
 *
 * Pure string matching, no I/O: the server asks bgapi_route_match and
 * dispatches on the result; 404 and 405 (with Allow) are decided here. */
#ifndef BGAPI_ROUTES_H
#define BGAPI_ROUTES_H

#include "api/ids.h"

typedef enum {
    BGAPI_ROUTE_NOT_FOUND,
    BGAPI_ROUTE_METHOD_NOT_ALLOWED,
    BGAPI_ROUTE_SOURCES_POST, /* POST /v1/sources */
    BGAPI_ROUTE_SOURCES_GET,  /* GET|HEAD /v1/sources/{id} */
    BGAPI_ROUTE_HEALTHZ,      /* GET|HEAD /healthz */
    BGAPI_ROUTE_READYZ,       /* GET|HEAD /readyz */
    BGAPI_ROUTE_METRICS,      /* GET|HEAD /metrics */
    BGAPI_ROUTE_OPENAPI,      /* GET|HEAD /openapi.yaml */
    BGAPI_ROUTE_PAGE          /* GET|HEAD /: the page (server/page.html) */
} bgapi_route_id;

/* The route template a path matched, whatever the method: the fixed set
 * of `route` labels in metrics and logs. A 405 keeps its path's template
 * (POST /healthz is BGAPI_TEMPLATE_HEALTHZ); an unknown path is OTHER. */
typedef enum {
    BGAPI_TEMPLATE_OTHER,      /* "other": no route (404) */
    BGAPI_TEMPLATE_SOURCES,    /* "/v1/sources" */
    BGAPI_TEMPLATE_SOURCES_ID, /* "/v1/sources/{id}" */
    BGAPI_TEMPLATE_HEALTHZ,    /* "/healthz" */
    BGAPI_TEMPLATE_READYZ,     /* "/readyz" */
    BGAPI_TEMPLATE_METRICS,    /* "/metrics" */
    BGAPI_TEMPLATE_OPENAPI,    /* "/openapi.yaml" */
    BGAPI_TEMPLATE_PAGE,       /* "/" */
    BGAPI_TEMPLATE_COUNT
} bgapi_route_template;

typedef struct {
    bgapi_route_id id;
    bgapi_route_template template;
    const char *label; /* bgapi_route_template_label(template) */
    const char *allow; /* static Allow header value for 405 */
    /* {id} for SOURCES_GET: a pointer into the path given to
     * bgapi_route_match (valid as long as it is) and its length, not
     * NUL-terminated by contract; else "" and 0. */
    const char *sources_id;
    size_t sources_id_len;
} bgapi_route;

/* Match method and path (no query string) into *out. An {id} longer than
 * BGAPI_ID_MAX or with characters outside base64url is NOT_FOUND. */
void bgapi_route_match(const char *method, const char *path, bgapi_route *out);

/* The static label of a template, e.g. "/v1/sources/{id}"; "other" for
 * BGAPI_TEMPLATE_OTHER and for any value out of range. */
const char *bgapi_route_template_label(bgapi_route_template t);

#endif
