/* test_svg.c - ?format=svg and the page at / on the real server: a
 * 1,000,000-source grid's SVG is image/svg+xml, well-formed (xmllint
 * --noout), under 2 MB and says it is binned; the same bytes come back by
 * id (X-Cache HIT, ETag tagged svg) and through Accept: image/svg+xml; the
 * page is HTML with the form's field names under a strict
 * Content-Security-Policy. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/server.h"

static const char *hdr(const bgt_response *r, const char *name)
{
    static char buf[4][512];
    static int next;
    return bgt_header(r, name, buf[next++ % 4], 512);
}

Test(svg, million_sources_well_formed_and_small, .timeout = 120)
{
    bgt_server s;
    bgt_response r, again, acc;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources?format=svg",
                               "{\"divergence_mrad\":1,\"divsteps\":1000,"
                               "\"round_div\":false}",
                               NULL, &r),
                 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(hdr(&r, "Content-Type"), "image/svg+xml");
    cr_expect_lt(r.len, 2u << 20, "%zu bytes", r.len);
    cr_expect_eq(bgt_xmllint(r.body, r.len), 0, "xmllint --noout");
    cr_expect_not_null(strstr(r.body, ">1000000 sources = 1000000 divergence "
                                      "points &#215; 1 channel<"));
    cr_expect_not_null(strstr(r.body, "binned: 1000000 points"));
    const char *etag = hdr(&r, "ETag");
    cr_expect_not_null(strstr(etag, "-svg-c"), "%s", etag);
    char loc[256];
    snprintf(loc, sizeof loc, "%s?format=svg", hdr(&r, "Content-Location"));
    cr_assert_eq(bgt_request(&s, "GET", loc, NULL, NULL, 0, &again), 0);
    cr_expect_eq(again.status, 200);
    cr_expect_str_eq(hdr(&again, "X-Cache"), "HIT");
    cr_expect_eq(again.len, r.len);
    cr_expect_eq(memcmp(again.body, r.body, r.len), 0, "the same bytes by id");
    const char *const accept[] = {"Accept: image/svg+xml", NULL};
    cr_assert_eq(bgt_request(&s, "GET", hdr(&r, "Content-Location"), accept,
                             NULL, 0, &acc),
                 0);
    cr_expect_eq(acc.status, 200);
    cr_expect_str_eq(hdr(&acc, "Content-Type"), "image/svg+xml");
    cr_expect_eq(acc.len, r.len);
    bgt_response_free(&r);
    bgt_response_free(&again);
    bgt_response_free(&acc);
    cr_expect_eq(bgt_server_stop(&s, 30), 0);
}

Test(svg, dtype_with_svg_is_400)
{
    bgt_server s;
    bgt_response r;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources?format=svg&dtype=float32", "{}",
                               NULL, &r),
                 0);
    cr_expect_eq(r.status, 400);
    cr_expect_not_null(strstr(r.body, "\"field\":\"dtype\""), "%s", r.body);
    bgt_response_free(&r);
    cr_expect_eq(bgt_server_stop(&s, 30), 0);
}

Test(svg, page_is_html_with_the_fields_and_a_strict_policy)
{
    bgt_server s;
    bgt_response r;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    cr_assert_eq(bgt_request(&s, "GET", "/", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_expect_str_eq(hdr(&r, "Content-Type"), "text/html; charset=utf-8");
    const char *csp = hdr(&r, "Content-Security-Policy");
    cr_assert_not_null(csp);
    cr_expect_eq(strncmp(csp, "default-src 'none'; script-src 'sha256-", 39), 0,
                 "%s", csp);
    cr_expect_null(strstr(csp, "unsafe"), "%s", csp);
    cr_expect_not_null(strstr(csp, "connect-src 'self'"), "%s", csp);
    static const char *const names[] = {
        "name=\"divergence_mrad\"",    "name=\"divsteps\"",
        "name=\"dispersion_percent\"", "name=\"dispsteps\"",
        "name=\"lambda_A\"",           "name=\"convention\"",
        "name=\"round_div\""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect_not_null(strstr(r.body, names[i]), "%s", names[i]);
    cr_expect_null(strstr(r.body, "http://"), "nothing from elsewhere");
    cr_expect_null(strstr(r.body, "https://"), "nothing from elsewhere");
    bgt_response_free(&r);
    cr_assert_eq(bgt_request(&s, "POST", "/", NULL, "x", 1, &r), 0);
    cr_expect_eq(r.status, 405);
    bgt_response_free(&r);
    cr_expect_eq(bgt_server_stop(&s, 30), 0);
}
