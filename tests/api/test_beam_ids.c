/* test_beam_ids.c - ids of the beam models (docs/beams.md): every model
 * round-trips through its id to the same resolved set and the same bytes;
 * tables are short decimals or f64, whichever is shorter; a spelling the
 * server would not write is not an id; nothing of the models given keeps
 * today's ids. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ids.h"
#include "api/request.h"
#include "core/resolve.h"

static const bgapi_repr JSON = {BGAPI_FMT_JSON, BG_F64};

static void resolve_text(const char *body, bg_resolved *r)
{
    bg_params p;
    bgapi_problem prob;
    bg_error err;
    cr_assert_eq(bgapi_parse_params(body, strlen(body), &p, &prob), 0, "%s",
                 prob.detail);
    cr_assert_eq(bg_resolve(&p, r, &err), BG_OK, "%s", err.detail);
    bg_params_free(&p);
}

static const char *const models[] = {
    "{\"spectrum\":{\"kind\":\"table\",\"lambda_A\":[0.998,0.999,1.0],"
    "\"weights\":[0.5,2,4]}}",
    "{\"hc_eV_A\":12398.419843320025,\"spectrum\":{\"kind\":\"table\","
    "\"energy_eV\":[8990,8992.5,8995,8997.5],\"weights\":[1,2,3,4],"
    "\"stride\":3},\"weights\":{\"normalize\":\"none\"}}",
    "{\"spectrum\":{\"kind\":\"lam\",\"text\":\"# w\\n1.2935,7.2e-31\\n1.29,"
    "-0.0\\n1.3,1e150\\n\"}}",
    "{\"energy_eV\":9500,\"spectrum\":{\"kind\":\"gaussian\",\"fwhm_eV\":10,"
    "\"channels\":20,\"channel_eV\":1},\"weights\":{\"total_flux\":1e12}}",
    "{\"lambda_A\":1.3,\"spectrum\":{\"kind\":\"gaussian\",\"sampling\":"
    "\"quantiles\",\"fwhm_eV\":6.5,\"channels\":7}}",
    "{\"divergence_mrad\":0.4,\"divsteps\":9,\"divergence_profile\":{\"kind\":"
    "\"gaussian\",\"sigma_h_mrad\":0.1,\"sigma_v_mrad\":0.05},\"weights\":{"
    "\"normalize\":\"mean\"}}",
    "{\"hdivsteps\":5,\"vdivsteps\":4,\"divergence_profile\":{\"kind\":"
    "\"gaussian\",\"sampling\":\"quantiles\",\"sigma_h_mrad\":0.08,"
    "\"sigma_v_mrad\":0.03}}",
};

Test(beam_ids, every_model_round_trips)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        bg_resolved r, back;
        resolve_text(models[i], &r);
        bgapi_key k, k2;
        bgapi_problem prob;
        cr_assert_eq(bgapi_key_build(&k, &r, JSON), 0);
        cr_assert_eq(bgapi_key_from_id(&k2, k.id, k.id_len, JSON, &back, &prob),
                     0, "%s: %s", models[i], k.id);
        cr_assert_eq(k2.canon_len, k.canon_len);
        cr_assert(memcmp(k2.canon, k.canon, k.canon_len) == 0);
        cr_assert_eq(back.spectrum.form, r.spectrum.form);
        cr_assert_eq(back.spectrum.n, r.spectrum.n);
        for (int64_t c = 0; r.spectrum.values && c < 2 * r.spectrum.n; c++)
            cr_assert(
                memcmp(&back.spectrum.values[c], &r.spectrum.values[c], 8) == 0,
                "%s value %lld", models[i], (long long)c);
        cr_assert_eq(back.div_form, r.div_form);
        cr_assert_eq(back.sigma_h, r.sigma_h);
        cr_assert_eq(back.normalize, r.normalize);
        cr_assert_eq(back.total_flux, r.total_flux);
        cr_assert_eq(back.hc_eV_A, r.hc_eV_A);
        cr_assert_eq(back.hdiv.count, r.hdiv.count);
        cr_assert_eq(back.spectrum.e0_eV, r.spectrum.e0_eV);
        bgapi_key_free(&k);
        bgapi_key_free(&k2);
        bg_resolved_free(&r);
        bg_resolved_free(&back);
    }
}

/* Short decimals: a 3-entry table with values like 0.998 costs ~4 bytes a
 * value, not 8; nothing of the models keeps `{}` at "Ag". */
Test(beam_ids, compact_and_unchanged_defaults)
{
    bg_resolved r;
    bgapi_key k;
    resolve_text(models[0], &r);
    cr_assert_eq(bgapi_key_build(&k, &r, JSON), 0);
    cr_assert_lt(k.canon_len, 1 + 2 + 2 + 3 * 2 * 4 + 2, "%zu bytes",
                 k.canon_len);
    bgapi_key_free(&k);
    bg_resolved_free(&r);
    resolve_text("{}", &r);
    cr_assert_eq(bgapi_key_build(&k, &r, JSON), 0);
    cr_assert_str_eq(k.id, "Ag");
    bgapi_key_free(&k);
    bg_resolved_free(&r);
}

/* Random full-precision values: f64 is shorter, and chosen (16 bytes a
 * channel at most). */
Test(beam_ids, full_precision_table_is_f64)
{
    char body[8192], *p = body;
    p += sprintf(p, "{\"spectrum\":{\"kind\":\"table\",\"lambda_A\":[");
    for (int k = 0; k < 100; k++)
        p += sprintf(p, "%s%.17g", k ? "," : "", 1.29 + k * 0.000123456789012);
    p += sprintf(p, "],\"weights\":[");
    for (int k = 0; k < 100; k++)
        p += sprintf(p, "%s%.17g", k ? "," : "", 1.0 / (k + 3.0));
    sprintf(p, "]}}");
    bg_resolved r, back;
    bgapi_key k, k2;
    bgapi_problem prob;
    resolve_text(body, &r);
    cr_assert_eq(bgapi_key_build(&k, &r, JSON), 0);
    cr_assert_leq(k.canon_len, 100 * 16 + 16, "%zu", k.canon_len);
    cr_assert_eq(bgapi_key_from_id(&k2, k.id, k.id_len, JSON, &back, &prob), 0);
    bgapi_key_free(&k);
    bgapi_key_free(&k2);
    bg_resolved_free(&r);
    bg_resolved_free(&back);
}

/* A table id with its mode byte changed (0 -> 2), cut short, or with a
 * negative weight written in is not an id: 404. */
Test(beam_ids, strict)
{
    bg_resolved r, back;
    bgapi_key k, k2;
    bgapi_problem prob;
    resolve_text(models[0], &r);
    cr_assert_eq(bgapi_key_build(&k, &r, JSON), 0);
    cr_assert_eq(bgapi_key_from_id(&k2, k.id, k.id_len - 2, JSON, &back, &prob),
                 -1);
    cr_assert_eq(prob.status, 404);
    /* re-encode with a modified canonical byte: the first array's mode */
    unsigned char canon[256];
    memcpy(canon, k.canon, k.canon_len);
    size_t at = k.canon_len - 1;
    for (size_t i = 1; i + 2 < k.canon_len; i++)
        if (canon[i] == 24 && canon[i + 1] == 1 && canon[i + 2] == 3) {
            at = i + 3; /* tag, form, n, then the mode byte */
            break;
        }
    cr_assert_eq(canon[at], 0, "mode byte found");
    canon[at] = 2;
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char id[512];
    size_t o = 0, i = 0, n = k.canon_len;
    for (; i + 3 <= n; i += 3) {
        unsigned v = canon[i] << 16 | canon[i + 1] << 8 | canon[i + 2];
        id[o++] = b64[v >> 18], id[o++] = b64[(v >> 12) & 63];
        id[o++] = b64[(v >> 6) & 63], id[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        id[o++] = b64[canon[i] >> 2], id[o++] = b64[(canon[i] & 3) << 4];
    } else if (n - i == 2) {
        unsigned v = canon[i] << 8 | canon[i + 1];
        id[o++] = b64[v >> 10], id[o++] = b64[(v >> 4) & 63];
        id[o++] = b64[(v & 15) << 2];
    }
    cr_assert_eq(bgapi_key_from_id(&k2, id, o, JSON, &back, &prob), -1);
    cr_assert_eq(prob.status, 404);
    bgapi_key_free(&k);
    bg_resolved_free(&r);
}
