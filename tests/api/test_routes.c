/* test_routes.c - api/routes.c: every route, method, 404 and 405 with
 * Allow, labels, and the shape of {id}. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/routes.h"

typedef struct {
    const char *method, *path;
    bgapi_route_id id;
    const char *label;
    const char *allow;
} route_case;

Test(routes, table)
{
    static const route_case cases[] = {
        {"POST", "/v1/sources", BGAPI_ROUTE_SOURCES_POST, "/v1/sources",
         "POST"},
        {"GET", "/v1/sources", BGAPI_ROUTE_METHOD_NOT_ALLOWED, "/v1/sources",
         "POST"},
        {"PUT", "/v1/sources", BGAPI_ROUTE_METHOD_NOT_ALLOWED, "/v1/sources",
         "POST"},
        {"GET", "/v1/sources/abc_-9Z", BGAPI_ROUTE_SOURCES_GET,
         "/v1/sources/{id}", "GET, HEAD"},
        {"HEAD", "/v1/sources/abc", BGAPI_ROUTE_SOURCES_GET, "/v1/sources/{id}",
         "GET, HEAD"},
        {"POST", "/v1/sources/abc", BGAPI_ROUTE_METHOD_NOT_ALLOWED,
         "/v1/sources/{id}", "GET, HEAD"},
        {"DELETE", "/v1/sources/abc", BGAPI_ROUTE_METHOD_NOT_ALLOWED,
         "/v1/sources/{id}", "GET, HEAD"},
        {"GET", "/healthz", BGAPI_ROUTE_HEALTHZ, "/healthz", "GET, HEAD"},
        {"HEAD", "/healthz", BGAPI_ROUTE_HEALTHZ, "/healthz", "GET, HEAD"},
        {"POST", "/healthz", BGAPI_ROUTE_METHOD_NOT_ALLOWED, "/healthz",
         "GET, HEAD"},
        {"GET", "/readyz", BGAPI_ROUTE_READYZ, "/readyz", "GET, HEAD"},
        {"GET", "/metrics", BGAPI_ROUTE_METRICS, "/metrics", "GET, HEAD"},
        {"HEAD", "/metrics", BGAPI_ROUTE_METRICS, "/metrics", "GET, HEAD"},
        {"GET", "/openapi.yaml", BGAPI_ROUTE_OPENAPI, "/openapi.yaml",
         "GET, HEAD"},
        {"OPTIONS", "/openapi.yaml", BGAPI_ROUTE_METHOD_NOT_ALLOWED,
         "/openapi.yaml", "GET, HEAD"},
        {"get", "/healthz", BGAPI_ROUTE_METHOD_NOT_ALLOWED, "/healthz",
         "GET, HEAD"},
        {"GET", "/", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/healthz/", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"POST", "/v1/sources/", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/abc/", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/a/b", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/a=", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/a+b", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/a%20b", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sources/..", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/Sources", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "//healthz", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/v1/sourcesx", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/metrics?x=1", BGAPI_ROUTE_NOT_FOUND, "other", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bgapi_route r;
        memset(&r, 0x7f, sizeof r);
        bgapi_route_match(cases[i].method, cases[i].path, &r);
        cr_expect_eq(r.id, cases[i].id, "%s %s", cases[i].method,
                     cases[i].path);
        cr_expect_str_eq(r.label, cases[i].label, "%s %s", cases[i].method,
                         cases[i].path);
        cr_expect_str_eq(r.allow, cases[i].allow, "%s %s", cases[i].method,
                         cases[i].path);
        if (r.id == BGAPI_ROUTE_SOURCES_GET)
            cr_expect_str_eq(r.sources_id,
                             cases[i].path + strlen("/v1/sources/"));
        else
            cr_expect_str_eq(r.sources_id, "");
    }
}

Test(routes, id_length_limit)
{
    char path[BGAPI_ID_MAX + 64];
    strcpy(path, "/v1/sources/");
    size_t base = strlen(path);
    memset(path + base, 'A', BGAPI_ID_MAX);
    path[base + BGAPI_ID_MAX] = '\0';
    bgapi_route r;
    bgapi_route_match("GET", path, &r);
    cr_expect_eq(r.id, BGAPI_ROUTE_SOURCES_GET);
    cr_expect_eq(strlen(r.sources_id), BGAPI_ID_MAX);
    path[base + BGAPI_ID_MAX] = 'A';
    path[base + BGAPI_ID_MAX + 1] = '\0';
    bgapi_route_match("GET", path, &r);
    cr_expect_eq(r.id, BGAPI_ROUTE_NOT_FOUND);
    bgapi_route_match(NULL, "/healthz", &r);
    cr_expect_eq(r.id, BGAPI_ROUTE_NOT_FOUND);
}
