/* test_routes.c - api/routes.c: every route, method, 404 and 405 with
 * Allow, route templates and their labels, and the shape of {id}. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/routes.h"

typedef struct {
    const char *method, *path;
    bgapi_route_id id;
    const char *label;
    const char *allow;
} route_case;

/* The template a label names (the test's own reading of the table). */
static bgapi_route_template template_of(const char *label)
{
    static const struct {
        const char *label;
        bgapi_route_template t;
    } known[] = {
        {"/v1/sources", BGAPI_TEMPLATE_SOURCES},
        {"/v1/sources/{id}", BGAPI_TEMPLATE_SOURCES_ID},
        {"/healthz", BGAPI_TEMPLATE_HEALTHZ},
        {"/readyz", BGAPI_TEMPLATE_READYZ},
        {"/metrics", BGAPI_TEMPLATE_METRICS},
        {"/openapi.yaml", BGAPI_TEMPLATE_OPENAPI},
        {"/", BGAPI_TEMPLATE_PAGE},
        {"other", BGAPI_TEMPLATE_OTHER},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].label, label) == 0)
            return known[i].t;
    }
    cr_assert_fail("unknown label %s", label);
    return BGAPI_TEMPLATE_COUNT;
}

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
        {"GET", "/", BGAPI_ROUTE_PAGE, "/", "GET, HEAD"},
        {"HEAD", "/", BGAPI_ROUTE_PAGE, "/", "GET, HEAD"},
        {"POST", "/", BGAPI_ROUTE_METHOD_NOT_ALLOWED, "/", "GET, HEAD"},
        {"GET", "//", BGAPI_ROUTE_NOT_FOUND, "other", ""},
        {"GET", "/index.html", BGAPI_ROUTE_NOT_FOUND, "other", ""},
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
        cr_expect_eq(r.template, template_of(cases[i].label), "%s %s",
                     cases[i].method, cases[i].path);
        cr_expect_str_eq(r.label, bgapi_route_template_label(r.template));
        if (r.id == BGAPI_ROUTE_SOURCES_GET) {
            const char *id = strrchr(cases[i].path, '/') + 1;
            cr_expect_eq(r.sources_id, id, "points into the path");
            cr_expect_eq(r.sources_id_len, strlen(id));
        } else {
            cr_expect_str_eq(r.sources_id, "");
            cr_expect_eq(r.sources_id_len, 0);
        }
    }
}

/* A 405 keeps the template of its path, so POST /healthz and
 * PUT /v1/sources/{id} are two different, fixed series in /metrics. */
Test(routes, method_not_allowed_keeps_its_template)
{
    bgapi_route a, b, c;
    bgapi_route_match("POST", "/healthz", &a);
    bgapi_route_match("PUT", "/v1/sources/abc", &b);
    bgapi_route_match("PUT", "/nowhere", &c);
    cr_expect_eq(a.id, BGAPI_ROUTE_METHOD_NOT_ALLOWED);
    cr_expect_eq(b.id, BGAPI_ROUTE_METHOD_NOT_ALLOWED);
    cr_expect_eq(a.template, BGAPI_TEMPLATE_HEALTHZ);
    cr_expect_eq(b.template, BGAPI_TEMPLATE_SOURCES_ID);
    cr_expect_str_eq(a.label, "/healthz");
    cr_expect_str_eq(b.label, "/v1/sources/{id}");
    cr_expect_eq(c.id, BGAPI_ROUTE_NOT_FOUND);
    cr_expect_eq(c.template, BGAPI_TEMPLATE_OTHER);
    cr_expect_str_eq(c.label, "other");
}

/* Every template has a label of its own; out of range reads "other". */
Test(routes, template_labels_cover_every_template)
{
    for (int t = 0; t < BGAPI_TEMPLATE_COUNT; t++) {
        const char *l = bgapi_route_template_label((bgapi_route_template)t);
        cr_assert_not_null(l, "template %d", t);
        cr_expect(l[0] == '/' || strcmp(l, "other") == 0, "%s", l);
        cr_expect_eq(template_of(l), (bgapi_route_template)t, "%s", l);
        for (int u = 0; u < t; u++)
            cr_expect_str_neq(
                l, bgapi_route_template_label((bgapi_route_template)u));
    }
    cr_expect_str_eq(bgapi_route_template_label(BGAPI_TEMPLATE_COUNT), "other");
    cr_expect_str_eq(bgapi_route_template_label((bgapi_route_template)-1),
                     "other");
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
    cr_expect_eq(r.sources_id_len, BGAPI_ID_MAX);
    cr_expect_eq(r.sources_id, path + base);
    path[base + BGAPI_ID_MAX] = 'A';
    path[base + BGAPI_ID_MAX + 1] = '\0';
    bgapi_route_match("GET", path, &r);
    cr_expect_eq(r.id, BGAPI_ROUTE_NOT_FOUND);
    bgapi_route_match(NULL, "/healthz", &r);
    cr_expect_eq(r.id, BGAPI_ROUTE_NOT_FOUND);
}
