/* test_errors.c - every refusal the server makes, as a client sees it.
 *
 * Each case checks the status, the application/problem+json content type,
 * that the body is a problem with the same status (and the offending field
 * where there is one), then that the server still answers. The server runs
 * with a small --max-sources and --max-body-kb so the limits are cheap to
 * reach. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

static bgt_server srv;

static const char *const FLAGS[] = {"--max-sources", "1000", "--max-body-kb",
                                    "1", NULL};

static void start(void)
{
    cr_assert_eq(bgt_server_start(&srv, FLAGS), 0);
}

static void stop(void)
{
    bgt_response r;
    cr_assert_eq(bgt_request(&srv, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200, "still alive");
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&srv, 10), 0, "log: %s", srv.log_path);
}

TestSuite(errors, .init = start, .fini = stop);

/* Check r is a problem with `status` (and `field` if not NULL); returns the
 * parsed body for more checks (caller decrefs). */
static json_t *expect_problem(bgt_response *r, long status, const char *field)
{
    char ct[128];
    cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status,
                 status, r->body);
    cr_assert_str_eq(bgt_header(r, "Content-Type", ct, sizeof ct),
                     "application/problem+json");
    cr_assert_not_null(bgt_header(r, "X-Request-Id", ct, sizeof ct));
    json_error_t err;
    json_t *j = json_loadb(r->body, r->len, 0, &err);
    cr_assert_not_null(j, "problem body is JSON: %s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), status);
    cr_assert(json_is_string(json_object_get(j, "type")));
    cr_assert(json_is_string(json_object_get(j, "title")));
    cr_assert(json_is_string(json_object_get(j, "detail")));
    if (field != NULL)
        cr_assert_str_eq(json_string_value(json_object_get(j, "field")), field,
                         "%s", r->body);
    return j;
}

static void post_expect(const char *json, long status, const char *field)
{
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", json, NULL, &r), 0);
    json_decref(expect_problem(&r, status, field));
    bgt_response_free(&r);
}

Test(errors, malformed_json)
{
    post_expect("{\"lambda_A\": 1.0", 400, NULL);
}

Test(errors, not_an_object)
{
    post_expect("[1, 2]", 400, NULL);
}

Test(errors, unknown_field)
{
    post_expect("{\"lambda\": 1.0}", 400, "lambda");
}

Test(errors, unknown_field_hint)
{
    bgt_response r;
    cr_assert_eq(
        bgt_post_json(&srv, "/v1/sources", "{\"divergence\": 0.5}", NULL, &r),
        0);
    json_t *j = expect_problem(&r, 400, "divergence");
    const char *detail = json_string_value(json_object_get(j, "detail"));
    /* the closest name first (divergence_profile may follow it) */
    cr_expect_not_null(strstr(detail, "did you mean `divergence_mrad`"), "%s",
                       detail);
    json_decref(j);
    bgt_response_free(&r);
}

Test(errors, wrong_type)
{
    post_expect("{\"divsteps\": \"five\"}", 400, "divsteps");
}

Test(errors, negative_value)
{
    post_expect("{\"lambda_A\": -1.0}", 422, "lambda_A");
}

Test(errors, lambda_and_energy)
{
    post_expect("{\"lambda_A\": 1.0, \"energy_eV\": 12398.42}", 422, NULL);
}

Test(errors, polar_parallel_to_beam)
{
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources",
                               "{\"beam_vector\": [0, 0, 1]}", NULL, &r),
                 0);
    json_t *j = expect_problem(&r, 422, "polar_vector");
    const char *detail = json_string_value(json_object_get(j, "detail"));
    cr_assert_not_null(detail);
    cr_expect_not_null(strstr(detail, "MOSFLM convention's default "
                                      "polar_vector [0, 0, 1]"),
                       "names the default: %s", detail);
    cr_expect_not_null(strstr(detail, "send a polar_vector"), "%s", detail);
    json_decref(j);
    bgt_response_free(&r);
}

Test(errors, zero_vector)
{
    post_expect("{\"beam_vector\": [0, 0, 0]}", 422, "beam_vector");
}

Test(errors, all_trimmed)
{
    post_expect("{\"divsteps\": 1}", 422, NULL);
}

Test(errors, too_many_sources)
{
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources",
                               "{\"divsteps\": 100, \"divergence_mrad\": 1, "
                               "\"round_div\": false}",
                               NULL, &r),
                 0);
    json_t *j = expect_problem(&r, 422, NULL);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    cr_assert_not_null(strstr(detail, "100 x"), "names the count: %s", detail);
    cr_assert_not_null(strstr(detail, "limit is 1000"), "names the limit: %s",
                       detail);
    json_decref(j);
    bgt_response_free(&r);
}

Test(errors, body_too_large)
{
    size_t n = 1024 * 1024; /* far past --max-body-kb 1 */
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    body[0] = '{';
    body[n - 1] = '}';
    body[n] = '\0';
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", body, NULL, &r), 0,
                 "the client reads the answer");
    json_decref(expect_problem(&r, 413, NULL));
    bgt_response_free(&r);
    /* Just past the limit, too. */
    body[1025] = '\0';
    body[1024] = '}';
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", body, NULL, &r), 0);
    json_decref(expect_problem(&r, 413, NULL));
    bgt_response_free(&r);
    free(body);
}

Test(errors, unsupported_media_type)
{
    bgt_response r;
    const char *h[] = {"Content-Type: text/plain", NULL};
    cr_assert_eq(bgt_request(&srv, "POST", "/v1/sources", h, "{}", 2, &r), 0);
    json_decref(expect_problem(&r, 415, NULL));
    bgt_response_free(&r);
}

Test(errors, not_acceptable)
{
    bgt_response r;
    const char *h[] = {"Accept: image/png", NULL};
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", "{}", h, &r), 0);
    json_decref(expect_problem(&r, 406, NULL));
    bgt_response_free(&r);
}

Test(errors, bad_format_parameter)
{
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources?format=xml", "{}", NULL, &r),
                 0);
    json_decref(expect_problem(&r, 400, NULL));
    bgt_response_free(&r);
}

Test(errors, bad_id)
{
    bgt_response r;
    const char *paths[] = {"/v1/sources/AAAA", "/v1/sources/not-an-id",
                           "/v1/sources/%00", "/v1/sources/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cr_assert_eq(bgt_request(&srv, "GET", paths[i], NULL, NULL, 0, &r), 0);
        json_t *j = expect_problem(&r, 404, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(j, "instance")),
                         i == 2 ? "/v1/sources/" : paths[i], "%s", r.body);
        json_decref(j);
        bgt_response_free(&r);
    }
}

Test(errors, unknown_path)
{
    bgt_response r;
    cr_assert_eq(bgt_request(&srv, "GET", "/nope", NULL, NULL, 0, &r), 0);
    json_decref(expect_problem(&r, 404, NULL));
    bgt_response_free(&r);
}

Test(errors, method_not_allowed)
{
    bgt_response r;
    char allow[64];
    cr_assert_eq(bgt_request(&srv, "GET", "/v1/sources", NULL, NULL, 0, &r), 0);
    json_decref(expect_problem(&r, 405, NULL));
    cr_assert_str_eq(bgt_header(&r, "Allow", allow, sizeof allow), "POST");
    bgt_response_free(&r);
    cr_assert_eq(bgt_request(&srv, "DELETE", "/healthz", NULL, NULL, 0, &r), 0);
    json_decref(expect_problem(&r, 405, NULL));
    cr_assert_not_null(bgt_header(&r, "Allow", allow, sizeof allow));
    bgt_response_free(&r);
}
