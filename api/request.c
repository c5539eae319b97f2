/* request.c - the POST /v1/sources body: Content-Type check and strict
 * JSON to bg_params. jansson parses (duplicate keys rejected, trailing
 * bytes rejected, depth bounded); a table of the fields of docs/semantics.md
 * §2.1 says what
 * JSON type each takes and where it goes in bg_params. Only types and
 * convention names are checked here; value ranges are bg_resolve's. An
 * unknown field's problem suggests the table's closest names (suggest.c). */
#include "api/request.h"

#include "api/suggest.h"

#include <ctype.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/resolve.h"

typedef enum {
    KIND_REAL,
    KIND_COUNT,
    KIND_BOOL,
    KIND_CONV,
    KIND_VEC3,
    KIND_SEMANTICS,
    KIND_DTYPE,
    KIND_SPECTRUM,
    KIND_DIVPROF,
    KIND_WEIGHTS
} field_kind;

typedef struct {
    const char *name;
    field_kind kind;
    size_t offset; /* into bg_params */
} field_spec;

#define FIELD(name, kind)                                                      \
    {                                                                          \
#name, kind, offsetof(bg_params, name)                                 \
    }

static const field_spec fields[] = {
    FIELD(lambda_A, KIND_REAL),
    FIELD(energy_eV, KIND_REAL),
    FIELD(dispersion_percent, KIND_REAL),
    FIELD(dispstep_percent, KIND_REAL),
    FIELD(dispsteps, KIND_COUNT),
    FIELD(divergence_mrad, KIND_REAL),
    FIELD(hdivrange_mrad, KIND_REAL),
    FIELD(vdivrange_mrad, KIND_REAL),
    FIELD(hdivstep_mrad, KIND_REAL),
    FIELD(vdivstep_mrad, KIND_REAL),
    FIELD(divsteps, KIND_COUNT),
    FIELD(hdivsteps, KIND_COUNT),
    FIELD(vdivsteps, KIND_COUNT),
    FIELD(round_div, KIND_BOOL),
    FIELD(convention, KIND_CONV),
    FIELD(beam_vector, KIND_VEC3),
    FIELD(polar_vector, KIND_VEC3),
    FIELD(source_distance_mm, KIND_REAL),
    FIELD(hc_eV_A, KIND_REAL),
    FIELD(spectrum, KIND_SPECTRUM),
    FIELD(divergence_profile, KIND_DIVPROF),
    FIELD(weights, KIND_WEIGHTS),
    FIELD(semantics, KIND_SEMANTICS),
    FIELD(dtype, KIND_DTYPE),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

/* The beam-model fields (README "Beam models"): the PyTorch port has no
 * equivalent, so under "semantics": "nanobrag_torch" each is a 422 naming
 * it, whether or not this build parses it (docs/torch.md). */
static const char *const torch_refused[] = {"spectrum", "divergence_profile",
                                            "weights", "hc_eV_A"};

static int parse_spectrum(const json_t *v, bg_params *out, bgapi_problem *prob);
static int parse_divprof(const json_t *v, bg_params *out, bgapi_problem *prob);
static int parse_weights(const json_t *v, bg_params *out, bgapi_problem *prob);

/* Write s as it may be echoed to a client: at most `limit` bytes of it
 * (not cutting a UTF-8 sequence), with control characters, quotes and
 * backslashes as JSON escapes, and "..." when cut. out holds cap bytes. */
static void echo_name(char *out, size_t cap, const char *s, size_t limit)
{
    size_t n = strlen(s), o = 0;
    int cut = 0;
    if (n > limit) {
        n = limit;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t k;
        if (c < 0x20 || c == 0x7f)
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        else if (c == '"' || c == '\\')
            k = (size_t)snprintf(esc, sizeof esc, "\\%c", c);
        else
            esc[0] = (char)c, k = 1;
        if (o + k + 4 >= cap)
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    if (cut && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

int bgapi_check_content_type(const char *content_type, bgapi_problem *prob)
{
    static const char json[] = "application/json";
    if (content_type == NULL)
        return 0;
    const char *s = content_type;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = sizeof json - 1;
    if (strncasecmp(s, json, n) == 0) {
        const char *t = s + n;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '\0' || *t == ';')
            return 0;
    }
    char shown[80];
    echo_name(shown, sizeof shown, content_type, BGAPI_PROBLEM_FIELD_MAX);
    return bgapi_problem_set(prob, 415, "unsupported-media-type", NULL,
                             "Content-Type",
                             "Content-Type \"%s\" is not accepted; send the "
                             "parameters as application/json",
                             shown);
}

static int wrong_type(bgapi_problem *prob, const char *name,
                      const char *expected)
{
    return bgapi_problem_set(prob, 400, "wrong-type", NULL, name,
                             "%s must be %s", name, expected);
}

static int parse_conv(const json_t *v, bg_params *out, bgapi_problem *prob)
{
    const char *s = json_string_value(v);
    char upper[16];
    size_t n = json_string_length(v);
    if (n < sizeof upper) {
        for (size_t i = 0; i < n; i++)
            upper[i] = (char)toupper((unsigned char)s[i]);
        upper[n] = '\0';
        if (strlen(upper) == n &&
            bg_convention_from_name(upper, &out->convention) == 0) {
            out->convention_given = true;
            return 0;
        }
    }
    char shown[80];
    echo_name(shown, sizeof shown, s, BGAPI_PROBLEM_FIELD_MAX);
    return bgapi_problem_set(prob, 422, "invalid-value", NULL, "convention",
                             "convention \"%s\" is unknown; use one of "
                             "MOSFLM, XDS, DIALS, ADXV, DENZO, CUSTOM",
                             shown);
}

static int parse_semantics(const json_t *v, bg_params *out, bgapi_problem *prob)
{
    if (bg_semantics_from_name(json_string_value(v), &out->semantics) == 0)
        return 0;
    char shown[80];
    echo_name(shown, sizeof shown, json_string_value(v),
              BGAPI_PROBLEM_FIELD_MAX);
    return bgapi_problem_set(prob, 422, "invalid-value", NULL, "semantics",
                             "semantics \"%s\" is unknown; use \"nanobragg\" "
                             "(the default) or \"nanobrag_torch\"",
                             shown);
}

static int parse_dtype(const json_t *v, bg_params *out, bgapi_problem *prob)
{
    const char *s = json_string_value(v);
    out->dtype_given = true;
    if (strcmp(s, "float32") == 0) {
        out->dtype = BG_F32;
        return 0;
    }
    if (strcmp(s, "float64") == 0) {
        out->dtype = BG_F64;
        return 0;
    }
    char shown[80];
    echo_name(shown, sizeof shown, s, BGAPI_PROBLEM_FIELD_MAX);
    return bgapi_problem_set(prob, 422, "invalid-value", NULL, "dtype",
                             "dtype \"%s\" is unknown; use \"float32\" (the "
                             "default) or \"float64\"",
                             shown);
}

/* Store JSON value v of field f into *out, or fill *prob (400 wrong-type,
 * 422 for an unknown convention). */
static int parse_field(const field_spec *f, const json_t *v, bg_params *out,
                       bgapi_problem *prob)
{
    char *slot = (char *)out + f->offset;
    switch (f->kind) {
    case KIND_REAL: {
        if (!json_is_number(v))
            return wrong_type(prob, f->name, "a number");
        bg_opt_real *r = (bg_opt_real *)(void *)slot;
        r->given = true;
        r->value = json_number_value(v);
        return 0;
    }
    case KIND_COUNT: {
        if (!json_is_integer(v))
            return wrong_type(prob, f->name, "an integer");
        bg_opt_count *c = (bg_opt_count *)(void *)slot;
        c->given = true;
        c->value = (int64_t)json_integer_value(v);
        return 0;
    }
    case KIND_BOOL:
        if (!json_is_boolean(v))
            return wrong_type(prob, f->name, "true or false");
        *(bool *)(void *)slot = json_is_true(v);
        return 0;
    case KIND_CONV:
        if (!json_is_string(v))
            return wrong_type(prob, f->name, "a string");
        return parse_conv(v, out, prob);
    case KIND_SPECTRUM:
        return parse_spectrum(v, out, prob);
    case KIND_DIVPROF:
        return parse_divprof(v, out, prob);
    case KIND_WEIGHTS:
        return parse_weights(v, out, prob);
    case KIND_VEC3: {
        if (!json_is_array(v) || json_array_size(v) != 3)
            return wrong_type(prob, f->name, "an array of 3 numbers");
        bg_opt_vec3 *vec = (bg_opt_vec3 *)(void *)slot;
        for (size_t i = 0; i < 3; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_number(e))
                return wrong_type(prob, f->name, "an array of 3 numbers");
            vec->v[i] = json_number_value(e);
        }
        vec->given = true;
        return 0;
    }
    case KIND_SEMANTICS:
        if (!json_is_string(v))
            return wrong_type(prob, f->name, "a string");
        return parse_semantics(v, out, prob);
    case KIND_DTYPE:
        if (!json_is_string(v))
            return wrong_type(prob, f->name, "a string");
        return parse_dtype(v, out, prob);
    }
    return wrong_type(prob, f->name, "known");
}

static const field_spec *find_field(const char *name)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    }
    return NULL;
}

/* Under the PyTorch port's semantics, a beam-model field is a 422 naming
 * it (before the unknown-field check, so the answer is the same whether or
 * not this build knows the field). 0 if there is none. */
static int refuse_torch_fields(const json_t *root, bgapi_problem *prob)
{
    const json_t *sem = json_object_get(root, "semantics");
    if (!json_is_string(sem) ||
        strcmp(json_string_value(sem), "nanobrag_torch") != 0)
        return 0;
    for (size_t i = 0; i < sizeof torch_refused / sizeof torch_refused[0]; i++)
        if (json_object_get(root, torch_refused[i]) != NULL)
            return bgapi_problem_set(
                prob, 422, "invalid-value", NULL, torch_refused[i],
                "%s has no equivalent in the PyTorch port; remove it or use "
                "\"semantics\": \"nanobragg\"",
                torch_refused[i]);
    return 0;
}

static int malformed(bgapi_problem *prob, const json_error_t *jerr)
{
    char text[96];
    echo_name(text, sizeof text, jerr->text, 64);
    return bgapi_problem_set(prob, 400, "malformed-json", NULL, NULL,
                             "the body is not valid JSON at line %d, column "
                             "%d (byte %d): %s",
                             jerr->line, jerr->column, jerr->position, text);
}

int bgapi_parse_params(const char *body, size_t len, bg_params *out,
                       bgapi_problem *prob)
{
    bg_params p;
    bg_params_init(&p);
    if (body == NULL || len == 0)
        return bgapi_problem_set(prob, 400, "malformed-json", NULL, NULL,
                                 "the body is empty; send a JSON object "
                                 "such as {} or {\"divergence_mrad\": 0.2}");
    const char *nul = memchr(body, '\0', len);
    if (nul != NULL)
        return bgapi_problem_set(prob, 400, "malformed-json", NULL, NULL,
                                 "the body holds a NUL byte at byte %zu",
                                 (size_t)(nul - body));
    json_error_t jerr;
    json_t *root =
        json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return malformed(prob, &jerr);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = bgapi_problem_set(prob, 400, "wrong-type", NULL, NULL,
                               "the body must be a JSON object of "
                               "parameters, such as {\"divsteps\": 9}");
    } else {
        rc = refuse_torch_fields(root, prob);
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (rc != 0)
            break;
        const field_spec *f = find_field(key);
        if (f == NULL) {
            char shown[80], near[160];
            echo_name(shown, sizeof shown, key, BGAPI_PROBLEM_FIELD_MAX - 8);
            int hint = bgapi_suggest(key, &fields[0].name, N_FIELDS,
                                     sizeof fields[0], near, sizeof near) > 0;
            rc = bgapi_problem_set(prob, 400, "unknown-field", NULL, shown,
                                   "\"%s\" is not a parameter of "
                                   "POST /v1/sources%s%s%s",
                                   shown, hint ? "; did you mean " : "", near,
                                   hint ? "?" : "");
            break;
        }
        rc = parse_field(f, value, &p, prob);
    }
    json_decref(root);
    if (rc == 0)
        *out = p;
    else
        bg_params_free(&p);
    return rc;
}

/* ---- the beam model objects (docs/beams.md) ---- */

/* A member of a model object: its name and where it goes. */
typedef struct {
    const char *name; /* as in the request, without the object's prefix */
    int (*parse)(const char *field, const json_t *v, void *slot,
                 bgapi_problem *prob);
    size_t offset; /* into the object's params struct */
} member_spec;

static int member_real(const char *field, const json_t *v, void *slot,
                       bgapi_problem *prob)
{
    if (!json_is_number(v))
        return wrong_type(prob, field, "a number");
    bg_opt_real *r = slot;
    r->given = true;
    r->value = json_number_value(v);
    return 0;
}

static int member_count(const char *field, const json_t *v, void *slot,
                        bgapi_problem *prob)
{
    if (!json_is_integer(v))
        return wrong_type(prob, field, "an integer");
    bg_opt_count *c = slot;
    c->given = true;
    c->value = (int64_t)json_integer_value(v);
    return 0;
}

/* An array of numbers; at most BG_CHANNELS_MAX + 1 are kept so that the
 * 422 for too many entries can say so without holding a huge array. */
static int member_array(const char *field, const json_t *v, void *slot,
                        bgapi_problem *prob)
{
    if (!json_is_array(v))
        return wrong_type(prob, field, "an array of numbers");
    bg_opt_array *a = slot;
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
        if (!json_is_number(json_array_get(v, i))) {
            char name[BGAPI_PROBLEM_FIELD_MAX];
            snprintf(name, sizeof name, "%s[%zu]", field, i);
            return wrong_type(prob, name, "a number");
        }
    }
    size_t keep = n > BG_CHANNELS_MAX ? BG_CHANNELS_MAX + 1 : n;
    double *d = malloc((keep ? keep : 1) * sizeof *d);
    if (d == NULL)
        return bgapi_problem_set(prob, 503, "out-of-memory", "Out of memory",
                                 NULL, "no memory to answer; retry later");
    for (size_t i = 0; i < keep; i++)
        d[i] = json_number_value(json_array_get(v, i));
    free(a->v);
    a->v = d;
    a->n = n > BG_CHANNELS_MAX ? BG_CHANNELS_MAX + 1 : n;
    a->given = true;
    return 0;
}

static int member_text(const char *field, const json_t *v, void *slot,
                       bgapi_problem *prob)
{
    if (!json_is_string(v))
        return wrong_type(prob, field, "a string");
    bg_spectrum_params *s = slot;
    size_t n = json_string_length(v);
    char *t = malloc(n + 1);
    if (t == NULL)
        return bgapi_problem_set(prob, 503, "out-of-memory", "Out of memory",
                                 NULL, "no memory to answer; retry later");
    memcpy(t, json_string_value(v), n);
    t[n] = '\0';
    free(s->text);
    s->text = t;
    s->text_len = n;
    return 0;
}

/* One of the names in `names` (NULL-terminated) as its index, or a 422
 * naming field. */
static int member_enum(const char *field, const json_t *v,
                       const char *const *names, int *out, bgapi_problem *prob)
{
    if (!json_is_string(v))
        return wrong_type(prob, field, "a string");
    const char *s = json_string_value(v);
    for (int i = 0; names[i] != NULL; i++) {
        if (strlen(s) == json_string_length(v) && strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char shown[80], list[96] = "";
    echo_name(shown, sizeof shown, s, BGAPI_PROBLEM_FIELD_MAX);
    for (int i = 0; names[i] != NULL; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return bgapi_problem_set(prob, 422, "invalid-value", NULL, field,
                             "%s \"%s\" is unknown; use one of %s", field,
                             shown, list);
}

/* Walk the members of object v (the request field `prefix`) against specs;
 * `extra` handles the members that are not plain values (kind, sampling,
 * normalize) and returns 1 when it does not know the name. */
static int parse_members(const char *prefix, const json_t *v,
                         const member_spec *specs, size_t nspecs, void *base,
                         int (*extra)(const char *field, const char *name,
                                      const json_t *m, void *base,
                                      bgapi_problem *prob),
                         bgapi_problem *prob)
{
    if (!json_is_object(v))
        return wrong_type(prob, prefix, "an object");
    const char *key;
    json_t *m;
    json_object_foreach((json_t *)v, key, m)
    {
        char field[96];
        char shown[48];
        echo_name(shown, sizeof shown, key, 24);
        snprintf(field, sizeof field, "%s.%s", prefix, shown);
        int rc = 1;
        for (size_t i = 0; i < nspecs; i++)
            if (strcmp(specs[i].name, key) == 0)
                rc = specs[i].parse(field, m, (char *)base + specs[i].offset,
                                    prob);
        if (rc == 1)
            rc = extra(field, key, m, base, prob);
        if (rc == 1)
            return bgapi_problem_set(prob, 400, "unknown-field", NULL, field,
                                     "\"%s\" is not a field of %s", field,
                                     prefix);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static const char *const sampling_names[] = {"weights", "quantiles", NULL};

static int spectrum_extra(const char *field, const char *name, const json_t *m,
                          void *base, bgapi_problem *prob)
{
    static const char *const kinds[] = {"table", "lam", "gaussian", NULL};
    bg_spectrum_params *s = base;
    int i, rc;
    if (strcmp(name, "kind") == 0) {
        if ((rc = member_enum(field, m, kinds, &i, prob)) != 0)
            return rc;
        s->kind = i == 0   ? BG_SPECTRUM_TABLE
                  : i == 1 ? BG_SPECTRUM_LAM
                           : BG_SPECTRUM_GAUSSIAN;
        return 0;
    }
    if (strcmp(name, "sampling") == 0) {
        if ((rc = member_enum(field, m, sampling_names, &i, prob)) != 0)
            return rc;
        s->sampling_given = true;
        s->quantiles = i == 1;
        return 0;
    }
    if (strcmp(name, "text") == 0)
        return member_text(field, m, s, prob);
    return 1;
}

#define MEMBER(type, fn, name)                                                 \
    {                                                                          \
#name, fn, offsetof(type, name)                                        \
    }

static int parse_spectrum(const json_t *v, bg_params *out, bgapi_problem *prob)
{
    static const member_spec specs[] = {
        MEMBER(bg_spectrum_params, member_array, lambda_A),
        MEMBER(bg_spectrum_params, member_array, energy_eV),
        MEMBER(bg_spectrum_params, member_array, weights),
        MEMBER(bg_spectrum_params, member_count, stride),
        MEMBER(bg_spectrum_params, member_count, channels),
        MEMBER(bg_spectrum_params, member_real, fwhm_eV),
        MEMBER(bg_spectrum_params, member_real, channel_eV),
    };
    bg_spectrum_params *s = &out->spectrum;
    int rc = parse_members("spectrum", v, specs, sizeof specs / sizeof specs[0],
                           s, spectrum_extra, prob);
    if (rc != 0)
        return rc;
    if (s->kind == BG_SPECTRUM_NONE)
        return bgapi_problem_set(prob, 422, "invalid-value", NULL,
                                 "spectrum.kind",
                                 "spectrum needs a kind: table, lam or "
                                 "gaussian");
    return 0;
}

static int divprof_extra(const char *field, const char *name, const json_t *m,
                         void *base, bgapi_problem *prob)
{
    static const char *const kinds[] = {"flat", "gaussian", NULL};
    bg_divprof_params *d = base;
    int i, rc;
    if (strcmp(name, "kind") == 0) {
        if ((rc = member_enum(field, m, kinds, &i, prob)) != 0)
            return rc;
        d->kind = i == 0 ? BG_DIVPROF_FLAT : BG_DIVPROF_GAUSSIAN;
        d->given = true;
        return 0;
    }
    if (strcmp(name, "sampling") == 0) {
        if ((rc = member_enum(field, m, sampling_names, &i, prob)) != 0)
            return rc;
        d->sampling_given = true;
        d->quantiles = i == 1;
        return 0;
    }
    return 1;
}

static int parse_divprof(const json_t *v, bg_params *out, bgapi_problem *prob)
{
    static const member_spec specs[] = {
        MEMBER(bg_divprof_params, member_real, sigma_h_mrad),
        MEMBER(bg_divprof_params, member_real, sigma_v_mrad),
    };
    bg_divprof_params *d = &out->divergence_profile;
    int rc =
        parse_members("divergence_profile", v, specs,
                      sizeof specs / sizeof specs[0], d, divprof_extra, prob);
    if (rc != 0)
        return rc;
    if (!d->given)
        return bgapi_problem_set(prob, 422, "invalid-value", NULL,
                                 "divergence_profile.kind",
                                 "divergence_profile needs a kind: flat or "
                                 "gaussian");
    return 0;
}

static int weights_extra(const char *field, const char *name, const json_t *m,
                         void *base, bgapi_problem *prob)
{
    static const char *const modes[] = {"sum", "mean", "none", NULL};
    bg_weights_params *w = base;
    int i, rc;
    if (strcmp(name, "normalize") != 0)
        return 1;
    if ((rc = member_enum(field, m, modes, &i, prob)) != 0)
        return rc;
    w->normalize_given = true;
    w->normalize = i == 0 ? BG_NORM_SUM : i == 1 ? BG_NORM_MEAN : BG_NORM_NONE;
    return 0;
}

static int parse_weights(const json_t *v, bg_params *out, bgapi_problem *prob)
{
    static const member_spec specs[] = {
        MEMBER(bg_weights_params, member_real, total_flux),
    };
    out->weights.given = true;
    return parse_members("weights", v, specs, sizeof specs / sizeof specs[0],
                         &out->weights, weights_extra, prob);
}
