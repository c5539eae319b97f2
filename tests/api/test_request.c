/* test_request.c - api/request.c: Content-Type, and JSON bodies to
 * bg_params: every field and type, every wrong type, duplicates, trailing
 * bytes, unknown fields, huge numbers, deep nesting, empty and non-object
 * bodies, NUL bytes, and what problem each failure becomes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"

static int parse(const char *body, bg_params *p, bgapi_problem *prob)
{
    memset(prob, 0, sizeof *prob);
    return bgapi_parse_params(body, strlen(body), p, prob);
}

Test(request, content_type)
{
    static const struct {
        const char *ct;
        int ok;
    } cases[] = {
        {NULL, 1},
        {"application/json", 1},
        {"Application/JSON", 1},
        {"application/json; charset=utf-8", 1},
        {"application/json;charset=UTF-8", 1},
        {" application/json ", 1},
        {"application/jsonx", 0},
        {"application/problem+json", 0},
        {"text/plain", 0},
        {"", 0},
        {"multipart/form-data; boundary=x", 0},
        {"application/x-www-form-urlencoded", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bgapi_problem prob = {0};
        int rc = bgapi_check_content_type(cases[i].ct, &prob);
        cr_expect_eq(rc == 0, cases[i].ok, "case %zu (%s)", i,
                     cases[i].ct ? cases[i].ct : "NULL");
        if (!cases[i].ok) {
            cr_expect_eq(prob.status, 415);
            cr_expect_str_eq(prob.slug, "unsupported-media-type");
        }
    }
}

Test(request, content_type_control_chars_not_echoed_raw)
{
    bgapi_problem prob;
    bgapi_check_content_type("text/\x01\x1b[31m\"evil\"", &prob);
    cr_expect_null(strchr(prob.detail, '\x01'));
    cr_expect_null(strchr(prob.detail, '\x1b'));
}

Test(request, empty_object_is_defaults)
{
    bg_params p, d;
    bgapi_problem prob;
    cr_assert_eq(parse("{}", &p, &prob), 0);
    bg_params_init(&d);
    cr_expect_eq(memcmp(&p, &d, sizeof p), 0);
    cr_assert_eq(parse(" \n\t{ }\r\n ", &p, &prob), 0);
}

Test(request, every_field)
{
    const char *body =
        "{\"lambda_A\": 1.5, \"energy_eV\": 9000, \"dispersion_percent\": 0.1,"
        " \"dispstep_percent\": 0.02, \"dispsteps\": 3, \"divergence_mrad\": "
        "0.5,"
        " \"hdivrange_mrad\": 0.28, \"vdivrange_mrad\": 0.3, \"hdivstep_mrad\":"
        " 0.02, \"vdivstep_mrad\": 0.03, \"divsteps\": 5, \"hdivsteps\": 7,"
        " \"vdivsteps\": 9, \"round_div\": false, \"convention\": \"xds\","
        " \"beam_vector\": [0, 0, 1], \"polar_vector\": [1.0, 0.0, -0.5],"
        " \"source_distance_mm\": 2500}";
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(parse(body, &p, &prob), 0, "%s", prob.detail);
    cr_expect(p.lambda_A.given && p.lambda_A.value == 1.5);
    cr_expect(p.energy_eV.given && p.energy_eV.value == 9000.0);
    cr_expect(p.dispersion_percent.given && p.dispersion_percent.value == 0.1);
    cr_expect(p.dispstep_percent.given && p.dispstep_percent.value == 0.02);
    cr_expect(p.dispsteps.given && p.dispsteps.value == 3);
    cr_expect(p.divergence_mrad.given && p.divergence_mrad.value == 0.5);
    cr_expect(p.hdivrange_mrad.given && p.hdivrange_mrad.value == 0.28);
    cr_expect(p.vdivrange_mrad.given && p.vdivrange_mrad.value == 0.3);
    cr_expect(p.hdivstep_mrad.given && p.hdivstep_mrad.value == 0.02);
    cr_expect(p.vdivstep_mrad.given && p.vdivstep_mrad.value == 0.03);
    cr_expect(p.divsteps.given && p.divsteps.value == 5);
    cr_expect(p.hdivsteps.given && p.hdivsteps.value == 7);
    cr_expect(p.vdivsteps.given && p.vdivsteps.value == 9);
    cr_expect(!p.round_div);
    cr_expect(p.convention_given && p.convention == BG_CONV_XDS);
    cr_expect(p.beam_vector.given && p.beam_vector.v[2] == 1.0);
    cr_expect(p.polar_vector.given && p.polar_vector.v[0] == 1.0 &&
              p.polar_vector.v[2] == -0.5);
    cr_expect(p.source_distance_mm.given &&
              p.source_distance_mm.value == 2500.0);
}

Test(request, reals_exact_and_negative_left_to_resolve)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(parse("{\"hdivrange_mrad\": 0.28, \"lambda_A\": -1,"
                       " \"dispsteps\": -4, \"vdivstep_mrad\": 1e-300}",
                       &p, &prob),
                 0);
    cr_expect_eq(p.hdivrange_mrad.value, 0.28);
    cr_expect_eq(p.lambda_A.value, -1.0);
    cr_expect_eq(p.dispsteps.value, -4);
    cr_expect_eq(p.vdivstep_mrad.value, 1e-300);
}

Test(request, conventions_case_insensitive)
{
    static const struct {
        const char *name;
        bg_convention c;
    } cases[] = {
        {"MOSFLM", BG_CONV_MOSFLM}, {"mosflm", BG_CONV_MOSFLM},
        {"Xds", BG_CONV_XDS},       {"dials", BG_CONV_DIALS},
        {"ADXV", BG_CONV_ADXV},     {"denzo", BG_CONV_DENZO},
        {"custom", BG_CONV_CUSTOM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"convention\": \"%s\"}", cases[i].name);
        bg_params p;
        bgapi_problem prob;
        cr_assert_eq(parse(body, &p, &prob), 0, "%s", cases[i].name);
        cr_expect_eq(p.convention, cases[i].c);
        cr_expect(p.convention_given);
    }
}

Test(request, unknown_convention_is_422)
{
    static const char *const bodies[] = {
        "{\"convention\": \"MOSFLMX\"}", "{\"convention\": \"\"}",
        "{\"convention\": \"mos flm\"}",
        "{\"convention\": \"averyveryveryverylongconventionnamethatgoeson"
        "andonandonandonandonandon\"}",
        "{\"convention\": \"\\u00e9\"}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        bg_params p;
        bgapi_problem prob;
        cr_assert_eq(parse(bodies[i], &p, &prob), -1);
        cr_expect_eq(prob.status, 422);
        cr_expect_str_eq(prob.slug, "invalid-value");
        cr_expect_str_eq(prob.field, "convention");
    }
}

typedef struct {
    const char *body;
    const char *field;
    const char *expected; /* substring of detail */
} wrong_case;

Test(request, wrong_types_are_400_naming_field_and_type)
{
    static const wrong_case cases[] = {
        {"{\"lambda_A\": \"1.0\"}", "lambda_A", "a number"},
        {"{\"lambda_A\": null}", "lambda_A", "a number"},
        {"{\"lambda_A\": true}", "lambda_A", "a number"},
        {"{\"lambda_A\": [1]}", "lambda_A", "a number"},
        {"{\"energy_eV\": {}}", "energy_eV", "a number"},
        {"{\"dispersion_percent\": \"x\"}", "dispersion_percent", "a number"},
        {"{\"dispstep_percent\": false}", "dispstep_percent", "a number"},
        {"{\"divergence_mrad\": null}", "divergence_mrad", "a number"},
        {"{\"hdivrange_mrad\": \"\"}", "hdivrange_mrad", "a number"},
        {"{\"vdivrange_mrad\": []}", "vdivrange_mrad", "a number"},
        {"{\"hdivstep_mrad\": {}}", "hdivstep_mrad", "a number"},
        {"{\"vdivstep_mrad\": true}", "vdivstep_mrad", "a number"},
        {"{\"source_distance_mm\": \"10\"}", "source_distance_mm", "a number"},
        {"{\"dispsteps\": 3.0}", "dispsteps", "an integer"},
        {"{\"dispsteps\": 3.5}", "dispsteps", "an integer"},
        {"{\"divsteps\": \"3\"}", "divsteps", "an integer"},
        {"{\"hdivsteps\": 1e2}", "hdivsteps", "an integer"},
        {"{\"vdivsteps\": null}", "vdivsteps", "an integer"},
        {"{\"round_div\": 1}", "round_div", "true or false"},
        {"{\"round_div\": \"true\"}", "round_div", "true or false"},
        {"{\"round_div\": null}", "round_div", "true or false"},
        {"{\"convention\": 1}", "convention", "a string"},
        {"{\"convention\": [\"XDS\"]}", "convention", "a string"},
        {"{\"beam_vector\": [1, 0]}", "beam_vector", "3 numbers"},
        {"{\"beam_vector\": [1, 0, 0, 0]}", "beam_vector", "3 numbers"},
        {"{\"beam_vector\": [1, 0, \"0\"]}", "beam_vector", "3 numbers"},
        {"{\"beam_vector\": [1, 0, null]}", "beam_vector", "3 numbers"},
        {"{\"beam_vector\": {\"x\": 1}}", "beam_vector", "3 numbers"},
        {"{\"polar_vector\": 1}", "polar_vector", "3 numbers"},
        {"{\"polar_vector\": []}", "polar_vector", "3 numbers"},
        {"{\"polar_vector\": [[1], 0, 0]}", "polar_vector", "3 numbers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bg_params p;
        bgapi_problem prob;
        cr_assert_eq(parse(cases[i].body, &p, &prob), -1, "%s", cases[i].body);
        cr_expect_eq(prob.status, 400, "%s", cases[i].body);
        cr_expect_str_eq(prob.slug, "wrong-type", "%s", cases[i].body);
        cr_expect_str_eq(prob.field, cases[i].field);
        cr_expect_not_null(strstr(prob.detail, cases[i].expected), "%s: %s",
                           cases[i].body, prob.detail);
        cr_expect_not_null(strstr(prob.detail, cases[i].field));
    }
}

Test(request, malformed_json_is_400_with_position)
{
    static const char *const bodies[] = {
        "{",
        "{\"lambda_A\": }",
        "{\"lambda_A\": 1,}",
        "{'lambda_A': 1}",
        "{\"lambda_A\": 1} x",
        "{\"lambda_A\": 1}{}",
        "{\"lambda_A\": 1, \"lambda_A\": 2}",
        "{\"lambda_A\": NaN}",
        "{\"lambda_A\": Infinity}",
        "{\"lambda_A\": 1e400}",
        "{\"dispsteps\": 99999999999999999999999}",
        "{\"lambda_A\": 01}",
        "{\"a\": \"\\u0000\"}",
        "{\"a\": \"\xff\"}",
        "{\"a\": \"\xc0\x80\"}",
        "nul",
        "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        bg_params p;
        bgapi_problem prob;
        cr_assert_eq(parse(bodies[i], &p, &prob), -1, "case %zu", i);
        cr_expect_eq(prob.status, 400, "case %zu", i);
        cr_expect_str_eq(prob.slug, "malformed-json", "case %zu", i);
        cr_expect_not_null(strstr(prob.detail, "line"), "case %zu: %s", i,
                           prob.detail);
        cr_expect_not_null(strstr(prob.detail, "column"));
    }
}

Test(request, duplicate_keys_rejected)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(parse("{\"divsteps\": 3, \"divsteps\": 3}", &p, &prob), -1);
    cr_expect_eq(prob.status, 400);
    cr_expect_not_null(strstr(prob.detail, "duplicate"), "%s", prob.detail);
}

Test(request, empty_and_whitespace_body)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(bgapi_parse_params("", 0, &p, &prob), -1);
    cr_expect_eq(prob.status, 400);
    cr_expect_str_eq(prob.slug, "malformed-json");
    cr_assert_eq(bgapi_parse_params(NULL, 0, &p, &prob), -1);
    cr_assert_eq(parse("   \n", &p, &prob), -1);
    cr_expect_str_eq(prob.slug, "malformed-json");
}

Test(request, non_object_bodies)
{
    static const char *const bodies[] = {"[]",   "[{}]", "1",   "\"x\"",
                                         "null", "true", "-0.5"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        bg_params p;
        bgapi_problem prob;
        cr_assert_eq(parse(bodies[i], &p, &prob), -1, "%s", bodies[i]);
        cr_expect_eq(prob.status, 400);
        cr_expect_str_eq(prob.slug, "wrong-type", "%s", bodies[i]);
        cr_expect_not_null(strstr(prob.detail, "object"));
    }
}

Test(request, nul_byte_anywhere_rejected)
{
    static const char body[] = "{\"lambda_A\": 1}\0 trailing";
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(bgapi_parse_params(body, sizeof body - 1, &p, &prob), -1);
    cr_expect_eq(prob.status, 400);
    cr_expect_str_eq(prob.slug, "malformed-json");
    static const char body2[] = "{\"lambda_A\"\0: 1}";
    cr_assert_eq(bgapi_parse_params(body2, sizeof body2 - 1, &p, &prob), -1);
    /* a body need not be NUL-terminated: only len bytes are read */
    char *exact = malloc(2);
    memcpy(exact, "{}", 2);
    cr_expect_eq(bgapi_parse_params(exact, 2, &p, &prob), 0);
    free(exact);
}

Test(request, unknown_fields_named_and_escaped)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(parse("{\"divsteps\": 3, \"lamda_A\": 1}", &p, &prob), -1);
    cr_expect_eq(prob.status, 400);
    cr_expect_str_eq(prob.slug, "unknown-field");
    cr_expect_str_eq(prob.field, "lamda_A");
    cr_expect_not_null(strstr(prob.detail, "\"lamda_A\""));

    cr_assert_eq(parse("{\"Lambda_A\": 1}", &p, &prob), -1);
    cr_expect_str_eq(prob.field, "Lambda_A");

    cr_assert_eq(parse("{\"a\\nb\\u001b[2J\\\"\": 1}", &p, &prob), -1);
    cr_expect_null(strchr(prob.detail, '\n'));
    cr_expect_null(strchr(prob.detail, '\x1b'));
    cr_expect_null(strchr(prob.field, '\x1b'));

    char body[4096];
    memset(body, 0, sizeof body);
    strcpy(body, "{\"");
    memset(body + 2, 'k', 3000);
    strcpy(body + 3002, "\": 1}");
    cr_assert_eq(parse(body, &p, &prob), -1);
    cr_expect_lt(strlen(prob.field), BGAPI_PROBLEM_FIELD_MAX);
    cr_expect_lt(strlen(prob.detail), 160);
}

/* An unknown field's detail suggests the parser's own closest names. */
Test(request, unknown_field_suggests_closest)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(parse("{\"divergence\": 0.5}", &p, &prob), -1);
    cr_expect_eq(prob.status, 400);
    cr_expect_str_eq(prob.slug, "unknown-field");
    cr_expect_str_eq(prob.field, "divergence");
    cr_expect_str_eq(prob.detail,
                     "\"divergence\" is not a parameter of POST /v1/sources; "
                     "did you mean `divergence_mrad`, `divergence_profile`?");

    cr_assert_eq(parse("{\"energy_keV\": 12.4}", &p, &prob), -1);
    cr_expect_not_null(strstr(prob.detail, "did you mean `energy_eV`?"), "%s",
                       prob.detail);
    cr_assert_eq(parse("{\"source_distance\": 1}", &p, &prob), -1);
    cr_expect_not_null(strstr(prob.detail, "`source_distance_mm`"), "%s",
                       prob.detail);
    /* every name the parser knows is suggested from a one-letter typo */
    cr_assert_eq(parse("{\"polar_vectr\": [0,1,0]}", &p, &prob), -1);
    cr_expect_not_null(strstr(prob.detail, "`polar_vector`"), "%s",
                       prob.detail);

    cr_assert_eq(parse("{\"temperature_K\": 300}", &p, &prob), -1);
    cr_expect_str_eq(prob.detail, "\"temperature_K\" is not a parameter of "
                                  "POST /v1/sources");
}

Test(request, deep_nesting_does_not_crash)
{
    size_t depth = 100000;
    char *body = malloc(2 * depth + 32);
    size_t n = 0;
    n += (size_t)sprintf(body, "{\"beam_vector\": ");
    for (size_t i = 0; i < depth; i++)
        body[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        body[n++] = ']';
    body[n++] = '}';
    bg_params p;
    bgapi_problem prob;
    cr_expect_eq(bgapi_parse_params(body, n, &p, &prob), -1);
    cr_expect_eq(prob.status, 400);
    free(body);
}

Test(request, huge_integer_counts_kept_for_resolve)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(parse("{\"divsteps\": 9223372036854775807,"
                       " \"dispsteps\": -9223372036854775807}",
                       &p, &prob),
                 0);
    cr_expect_eq(p.divsteps.value, INT64_MAX);
    cr_expect_eq(p.dispsteps.value, -INT64_MAX);
}

Test(request, parse_leaves_out_untouched_on_error)
{
    bg_params p;
    memset(&p, 0x5a, sizeof p);
    bg_params before = p;
    bgapi_problem prob;
    cr_assert_eq(parse("{\"lambda_A\": 2, \"bogus\": 1}", &p, &prob), -1);
    cr_expect_eq(memcmp(&p, &before, sizeof p), 0);
}
