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
    BGAPI_ROUTE_OPENAPI       /* GET|HEAD /openapi.yaml */
} bgapi_route_id;

typedef struct {
    bgapi_route_id id;
    const char *label; /* static route template for metrics/logs,
                          e.g. "/v1/sources/{id}"; "other" */
    const char *allow; /* static Allow header value for 405 */
    char sources_id[BGAPI_ID_MAX + 1]; /* {id} for SOURCES_GET, else "" */
} bgapi_route;

/* Match method and path (no query string) into *out. An {id} longer than
 * BGAPI_ID_MAX or with characters outside base64url is NOT_FOUND. */
void bgapi_route_match(const char *method, const char *path, bgapi_route *out);

#endif
