/* test_svg.c - api/encode_svg.c: the picture's structure (a well-formed
 * standalone SVG, xmllint --noout), the counts and semantics text, one
 * mark per point and per channel when few, binning and its note when many
 * (1,000,000 sources, 1,000 channels), the size bound, h and v told apart
 * (a 5 x 3 rectangle has 5 distinct x and 3 distinct y positions in any
 * convention), the trim ellipse only with round_div, and the encoder's
 * bytes equal to the renderer's. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/encode.h"
#include "api/encode_svg.h"
#include "api/ids.h"
#include "api/request.h"
#include "tests/support/server.h"

typedef struct {
    bg_resolved r;
    bg_grid g;
    bgapi_key key;
    bgapi_view v;
    char *svg;
    size_t len;
} fixture;

static void fixture_make(fixture *f, const char *body, bg_dtype dt)
{
    bg_params p;
    bgapi_problem prob;
    bg_error err;
    uint64_t count, points;
    const bgapi_repr svg = {BGAPI_FMT_SVG, BG_F64};
    cr_assert_eq(bgapi_parse_params(body, strlen(body), &p, &prob), 0, "%s",
                 prob.detail);
    cr_assert_eq(bg_resolve(&p, &f->r, &err), BG_OK, "%s", err.detail);
    cr_assert_eq(bg_grid_count(&f->r, 2000000, &count, &points, &err), BG_OK,
                 "%s", err.detail);
    cr_assert_eq(bg_grid_alloc(&f->g, count, dt, 0), BG_OK);
    cr_assert_eq(bg_grid_fill(&f->r, &f->g, 2), BG_OK);
    cr_assert_eq(bgapi_key_build(&f->key, &f->r, svg), 0);
    f->v = (bgapi_view){f->key.id, &f->r, &f->g};
    cr_assert_eq(bgapi_svg_render(&f->v, &f->svg, &f->len), 0);
    cr_assert_eq(strlen(f->svg), f->len, "no NUL inside, NUL-terminated");
}

static void fixture_free(fixture *f)
{
    free(f->svg);
    bg_grid_free(&f->g);
    bgapi_key_free(&f->key);
}

static size_t occurrences(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void expect_structure(const fixture *f)
{
    cr_expect_eq(strncmp(f->svg,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<svg xmlns=\"http://www.w3.org/2000/svg\"",
                         77),
                 0);
    cr_expect_str_eq(f->svg + f->len - 7, "</svg>\n");
    cr_expect_eq(bgt_xmllint(f->svg, f->len), 0, "xmllint --noout");
    cr_expect_null(strstr(f->svg, "href"), "no external resource");
    cr_expect_null(strstr(f->svg, "<script"));
    cr_expect_null(strstr(f->svg, "<style"));
    cr_expect_lt(f->len, (size_t)BGAPI_SVG_MAX);
    static const char *const labels[] = {"h (mrad)",
                                         "v (mrad)",
                                         "wavelength &#955; (&#197;)",
                                         "channel weight",
                                         "semantics: nanoBragg.c",
                                         "Divergence footprint",
                                         "Spectrum"};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        cr_expect_not_null(strstr(f->svg, labels[i]), "%s", labels[i]);
    char id[BGAPI_ID_MAX + 8];
    snprintf(id, sizeof id, "id %s<", f->key.id);
    cr_expect_not_null(strstr(f->svg, id), "the id");
}

Test(svg, seed_grid_counts_marks_and_ellipse)
{
    fixture f;
    fixture_make(&f,
                 "{\"divergence_mrad\":0.5,\"divsteps\":25,"
                 "\"dispersion_percent\":0.1,\"dispsteps\":9}",
                 BG_F64);
    expect_structure(&f);
    cr_expect_not_null(strstr(f.svg, ">4473 sources = 497 divergence points "
                                     "&#215; 9 channels<"));
    cr_expect_eq(occurrences(f.svg, "class=\"pt\""), 497);
    cr_expect_eq(occurrences(f.svg, "class=\"bin\""), 0);
    cr_expect_eq(occurrences(f.svg, "class=\"ch\""), 9);
    cr_expect_eq(occurrences(f.svg, "<ellipse class=\"trim\""), 1);
    cr_expect_not_null(strstr(f.svg, "each of the 497 points drawn"));
    cr_expect_not_null(strstr(f.svg, "one stem per wavelength (9)"));
    cr_expect_null(strstr(f.svg, "binned"));
    fixture_free(&f);
}

Test(svg, ten_sources_readable)
{
    fixture f;
    fixture_make(&f,
                 "{\"divergence_mrad\":0.3,\"divsteps\":3,"
                 "\"dispersion_percent\":0.2,\"dispsteps\":2}",
                 BG_F64);
    expect_structure(&f);
    cr_expect_not_null(strstr(f.svg, ">10 sources = 5 divergence points "
                                     "&#215; 2 channels<"));
    cr_expect_eq(occurrences(f.svg, "class=\"pt\""), 5);
    cr_expect_eq(occurrences(f.svg, "class=\"ch\""), 2);
    cr_expect_lt(f.len, 20000);
    fixture_free(&f);
}

Test(svg, million_sources_binned_and_bounded, .timeout = 60)
{
    fixture f;
    fixture_make(
        &f, "{\"divergence_mrad\":1,\"divsteps\":1000,\"round_div\":false}",
        BG_F64);
    cr_assert_eq(f.g.count, 1000000);
    expect_structure(&f);
    cr_expect_not_null(strstr(f.svg, ">1000000 sources = 1000000 divergence "
                                     "points &#215; 1 channel<"));
    cr_expect_eq(occurrences(f.svg, "class=\"pt\""), 0);
    size_t bins = occurrences(f.svg, "class=\"bin\"");
    cr_expect_gt(bins, 100);
    cr_expect_leq(bins, BGAPI_SVG_BINS * BGAPI_SVG_BINS);
    cr_expect_not_null(strstr(f.svg, "binned: 1000000 points into "));
    cr_expect_eq(occurrences(f.svg, "<ellipse"), 0, "square_div: no trim");
    cr_expect_lt(f.len, 2u << 20, "under 2 MB: %zu", f.len);
    fixture_free(&f);
}

Test(svg, many_channels_binned)
{
    fixture f;
    fixture_make(&f, "{\"dispersion_percent\":1,\"dispsteps\":1000}", BG_F64);
    expect_structure(&f);
    cr_expect_not_null(strstr(f.svg, ">1000 sources = 1 divergence point "
                                     "&#215; 1000 channels<"));
    cr_expect_not_null(strstr(f.svg, "binned: 1000 wavelengths in 334 runs of "
                                     "3 neighbours"));
    cr_expect_eq(occurrences(f.svg, "class=\"ch\""), 334);
    /* a flat spectrum stays flat: every stem the same height */
    const char *p = strstr(f.svg, "class=\"ch\"");
    const char *y2 = strstr(p, "y2=\"");
    cr_assert_not_null(y2);
    char first[16];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(y2 + 4, "\""), y2 + 4);
    size_t same = 0;
    for (; p != NULL; p = strstr(p + 1, "class=\"ch\"")) {
        const char *y = strstr(p, "y2=\"") + 4;
        same +=
            strncmp(y, first, strlen(first)) == 0 && y[strlen(first)] == '"';
    }
    cr_expect_geq(same, 333, "%zu of 334 stems at %s", same, first);
    fixture_free(&f);
}

/* The distinct values of attribute attr (" cx=\"") over the point marks. */
static size_t distinct_attr(const char *svg, const char *attr)
{
    char seen[64][16];
    size_t n = 0;
    for (const char *p = svg; (p = strstr(p, "class=\"pt\"")) != NULL; p++) {
        const char *a = strstr(p, attr) + strlen(attr);
        size_t k = strcspn(a, "\"");
        cr_assert_lt(k, 16);
        size_t i = 0;
        while (i < n && (strlen(seen[i]) != k || strncmp(seen[i], a, k) != 0))
            i++;
        if (i == n) {
            cr_assert_lt(n, 64);
            memcpy(seen[n], a, k);
            seen[n++][k] = '\0';
        }
    }
    return n;
}

Test(svg, h_and_v_told_apart_in_every_convention)
{
    static const char *const bodies[] = {
        "{\"hdivrange_mrad\":2,\"hdivsteps\":5,\"vdivrange_mrad\":1,"
        "\"vdivsteps\":3,\"round_div\":false}",
        "{\"hdivrange_mrad\":2,\"hdivsteps\":5,\"vdivrange_mrad\":1,"
        "\"vdivsteps\":3,\"round_div\":false,\"convention\":\"XDS\"}",
        "{\"hdivrange_mrad\":2,\"hdivsteps\":5,\"vdivrange_mrad\":1,"
        "\"vdivsteps\":3,\"round_div\":false,\"convention\":\"DIALS\"}",
        "{\"hdivrange_mrad\":2,\"hdivsteps\":5,\"vdivrange_mrad\":1,"
        "\"vdivsteps\":3,\"round_div\":false,\"beam_vector\":[0.1,0.2,0.9],"
        "\"polar_vector\":[0,1,0]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        fixture f;
        fixture_make(&f, bodies[i], BG_F64);
        cr_expect_eq(occurrences(f.svg, "class=\"pt\""), 15, "%zu", i);
        cr_expect_eq(distinct_attr(f.svg, " cx=\""), 5, "h columns, %zu", i);
        cr_expect_eq(distinct_attr(f.svg, " cy=\""), 3, "v rows, %zu", i);
        cr_expect_eq(occurrences(f.svg, "<ellipse"), 0);
        cr_expect_eq(occurrences(f.svg, "class=\"range\""), 1);
        fixture_free(&f);
    }
}

Test(svg, float32_grid_and_single_source)
{
    fixture f;
    fixture_make(&f, "{}", BG_F32);
    expect_structure(&f);
    cr_expect_not_null(strstr(f.svg, ">1 source = 1 divergence point "
                                     "&#215; 1 channel<"));
    cr_expect_eq(occurrences(f.svg, "class=\"pt\""), 1);
    cr_expect_eq(occurrences(f.svg, "class=\"ch\""), 1);
    fixture_free(&f);
}

Test(svg, encoder_gives_the_rendered_bytes)
{
    fixture f;
    fixture_make(&f,
                 "{\"divergence_mrad\":0.5,\"divsteps\":9,\"dispsteps\":3,"
                 "\"dispersion_percent\":0.5}",
                 BG_F64);
    const bgapi_repr svg = {BGAPI_FMT_SVG, BG_F64};
    cr_expect_eq(bgapi_encoded_size(&f.v, svg), BGAPI_SIZE_UNKNOWN);
    char *all;
    size_t len;
    cr_assert_eq(bgapi_encode_all(&f.v, svg, BGAPI_SVG_MAX, &all, &len), 0);
    cr_expect_eq(len, f.len);
    cr_expect_eq(memcmp(all, f.svg, len), 0);
    free(all);
    cr_expect_eq(bgapi_encode_all(&f.v, svg, 100, &all, &len), -1,
                 "refused past max_bytes");
    bgapi_encoder *e = bgapi_encoder_new(&f.v, svg);
    cr_assert_not_null(e);
    char *buf = malloc(f.len + BGAPI_CHUNK_MIN);
    size_t n = 0, k;
    while ((k = bgapi_encoder_read(e, buf + n, BGAPI_CHUNK_MIN)) > 0)
        n += k;
    cr_expect_eq(n, f.len);
    cr_expect_eq(memcmp(buf, f.svg, n), 0);
    bgapi_encoder_free(e);
    free(buf);
    fixture_free(&f);
}

Test(svg, names_the_port_semantics_and_its_dtype)
{
    fixture f;
    fixture_make(&f,
                 "{\"semantics\":\"nanobrag_torch\",\"dtype\":\"float64\","
                 "\"divergence_mrad\":0.5,\"divsteps\":25}",
                 BG_F64);
    cr_expect_not_null(strstr(f.svg, "semantics: nanobrag_torch (float64)"));
    cr_expect_null(strstr(f.svg, "nanoBragg.c"));
    cr_expect_eq(bgt_xmllint(f.svg, f.len), 0, "xmllint --noout");
    fixture_free(&f);
    fixture_make(&f, "{\"semantics\":\"nanobrag_torch\"}", BG_F32);
    cr_expect_not_null(strstr(f.svg, "semantics: nanobrag_torch (float32)"));
    fixture_free(&f);
}
