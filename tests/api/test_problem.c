/* test_problem.c - api/problem.c: setting, core mapping, and rendering
 * problem+json that parses back with jansson, escaped, with invalid UTF-8
 * and control characters made harmless. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/problem.h"

static json_t *render_parse(const bgapi_problem *p, const char *instance)
{
    size_t len = 0;
    char *s = bgapi_problem_render(p, instance, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    cr_assert_not_null(j, "%s: %s", s, err.text);
    free(s);
    return j;
}

Test(problem, set_returns_minus_one_and_fills)
{
    bgapi_problem p;
    cr_expect_eq(
        bgapi_problem_set(&p, 404, "not-found", NULL, NULL, "no grid %d", 7),
        -1);
    cr_expect_eq(p.status, 404);
    cr_expect_str_eq(p.slug, "not-found");
    cr_expect_str_eq(p.title, "Not found");
    cr_expect_str_eq(p.field, "");
    cr_expect_str_eq(p.detail, "no grid 7");
    cr_expect_eq(bgapi_problem_set(NULL, 400, "x", "t", NULL, "y"), -1);
    bgapi_problem_set(&p, 400, "wrong-type", "Custom", "f", "d");
    cr_expect_str_eq(p.title, "Custom");
}

Test(problem, titles_for_every_slug)
{
    static const char *const slugs[] = {
        "malformed-json",    "unknown-field",    "wrong-type",
        "invalid-value",     "conflict",         "degenerate-vector",
        "all-trimmed",       "too-many-sources", "unsupported-media-type",
        "not-acceptable",    "not-found",        "method-not-allowed",
        "payload-too-large", "overloaded",       "unauthorized",
        "internal"};
    for (size_t i = 0; i < sizeof slugs / sizeof slugs[0]; i++)
        cr_expect_str_neq(bgapi_problem_title(slugs[i]), "Error", "%s",
                          slugs[i]);
    cr_expect_str_eq(bgapi_problem_title("nope"), "Error");
    cr_expect_str_eq(bgapi_problem_title(NULL), "Error");
}

Test(problem, from_core)
{
    static const struct {
        bg_status code;
        int status;
        const char *slug;
    } cases[] = {
        {BG_INVALID, 422, "invalid-value"},
        {BG_CONFLICT, 422, "conflict"},
        {BG_VECTOR, 422, "degenerate-vector"},
        {BG_PARALLEL, 422, "degenerate-vector"},
        {BG_EMPTY, 422, "all-trimmed"},
        {BG_TOO_MANY, 422, "too-many-sources"},
        {BG_NOMEM, 503, "overloaded"},
        {BG_OK, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bg_error e = {cases[i].code, "lambda_A", "lambda_A must be > 0"};
        bgapi_problem p;
        cr_expect_eq(bgapi_problem_from_core(&p, &e), -1);
        cr_expect_eq(p.status, cases[i].status, "case %zu", i);
        cr_expect_str_eq(p.slug, cases[i].slug);
        cr_expect_str_eq(p.field, "lambda_A");
        cr_expect_str_eq(p.detail, "lambda_A must be > 0");
    }
    bg_error e = {BG_EMPTY, "", ""};
    bgapi_problem p;
    bgapi_problem_from_core(&p, &e);
    cr_expect_str_eq(p.detail, bg_strerror(BG_EMPTY));
}

Test(problem, render_fields)
{
    bgapi_problem p;
    bgapi_problem_set(&p, 422, "invalid-value", NULL, "lambda_A",
                      "lambda_A must be positive");
    json_t *j = render_parse(&p, "/v1/sources");
    cr_expect_str_eq(json_string_value(json_object_get(j, "type")),
                     "urn:beamgrid:problem:invalid-value");
    cr_expect_str_eq(json_string_value(json_object_get(j, "title")),
                     "Value out of range");
    cr_expect_eq(json_integer_value(json_object_get(j, "status")), 422);
    cr_expect_str_eq(json_string_value(json_object_get(j, "detail")),
                     "lambda_A must be positive");
    cr_expect_str_eq(json_string_value(json_object_get(j, "field")),
                     "lambda_A");
    cr_expect_str_eq(json_string_value(json_object_get(j, "instance")),
                     "/v1/sources");
    json_decref(j);

    bgapi_problem_set(&p, 404, "not-found", NULL, NULL, "gone");
    j = render_parse(&p, NULL);
    cr_expect_null(json_object_get(j, "field"));
    cr_expect_null(json_object_get(j, "instance"));
    json_decref(j);
}

Test(problem, render_escapes_hostile_text)
{
    bgapi_problem p;
    bgapi_problem_set(&p, 400, "unknown-field", NULL, "a\"b\\c\n\x01",
                      "bad \"%s\" </script> \x1b[31m \xff\xfe \xc3", "x\ty");
    json_t *j = render_parse(&p, "/v1/sources/\"\n");
    const char *d = json_string_value(json_object_get(j, "detail"));
    cr_assert_not_null(d);
    cr_expect_not_null(strstr(d, "x\ty"));
    cr_expect_null(strstr(d, "\xff"));
    cr_expect_str_eq(json_string_value(json_object_get(j, "field")),
                     "a\"b\\c\n\x01");
    json_decref(j);
}

/* Regression (issue 5): a client's markup came back as markup inside the
 * JSON strings; <, > and & are now \u escapes, and the text round-trips. */
Test(problem, render_escapes_markup)
{
    bgapi_problem p;
    bgapi_problem_set(&p, 422, "invalid-value", NULL, "<b>&",
                      "convention \"</script><script>alert(1)</script>\"");
    size_t len = 0;
    char *body = bgapi_problem_render(&p, "/v1/<x>&amp;", &len);
    cr_assert_not_null(body);
    cr_expect_eq(len, strlen(body));
    cr_expect_null(strpbrk(body, "<>&"), "%s", body);
    cr_expect_not_null(strstr(body, "\\u003cscript\\u003e"), "%s", body);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "%s", body);
    cr_expect_str_eq(json_string_value(json_object_get(j, "field")), "<b>&");
    cr_expect_str_eq(json_string_value(json_object_get(j, "instance")),
                     "/v1/<x>&amp;");
    cr_expect_not_null(strstr(json_string_value(json_object_get(j, "detail")),
                              "<script>alert(1)</script>"));
    json_decref(j);
    free(body);
}

Test(problem, truncation_keeps_utf8_whole)
{
    char longfield[200];
    /* 2-byte characters so the 48-byte cut lands mid-character */
    size_t n = 0;
    longfield[n++] = 'x';
    while (n + 2 < sizeof longfield) {
        longfield[n++] = '\xc3';
        longfield[n++] = '\xa9';
    }
    longfield[n] = '\0';
    bgapi_problem p;
    bgapi_problem_set(&p, 400, "unknown-field", NULL, longfield, "%s",
                      longfield);
    cr_expect_lt(strlen(p.field), BGAPI_PROBLEM_FIELD_MAX);
    json_t *j = render_parse(&p, NULL);
    const char *f = json_string_value(json_object_get(j, "field"));
    cr_expect_eq(strlen(f), strlen(p.field));
    json_decref(j);

    char longdetail[1000];
    memset(longdetail, 'd', sizeof longdetail - 1);
    longdetail[sizeof longdetail - 1] = '\0';
    bgapi_problem_set(&p, 400, "wrong-type", NULL, NULL, "%s", longdetail);
    cr_expect_eq(strlen(p.detail), BGAPI_PROBLEM_DETAIL_MAX - 1);
}
