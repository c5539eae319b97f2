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
#include <string.h>
#include <strings.h>

typedef enum {
    KIND_REAL,
    KIND_COUNT,
    KIND_BOOL,
    KIND_CONV,
    KIND_VEC3,
    KIND_SEMANTICS,
    KIND_DTYPE
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
    FIELD(lambda_A, KIND_REAL),           FIELD(energy_eV, KIND_REAL),
    FIELD(dispersion_percent, KIND_REAL), FIELD(dispstep_percent, KIND_REAL),
    FIELD(dispsteps, KIND_COUNT),         FIELD(divergence_mrad, KIND_REAL),
    FIELD(hdivrange_mrad, KIND_REAL),     FIELD(vdivrange_mrad, KIND_REAL),
    FIELD(hdivstep_mrad, KIND_REAL),      FIELD(vdivstep_mrad, KIND_REAL),
    FIELD(divsteps, KIND_COUNT),          FIELD(hdivsteps, KIND_COUNT),
    FIELD(vdivsteps, KIND_COUNT),         FIELD(round_div, KIND_BOOL),
    FIELD(convention, KIND_CONV),         FIELD(beam_vector, KIND_VEC3),
    FIELD(polar_vector, KIND_VEC3),       FIELD(source_distance_mm, KIND_REAL),
    FIELD(semantics, KIND_SEMANTICS),     FIELD(dtype, KIND_DTYPE),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

/* The beam-model fields (README "Beam models"): the PyTorch port has no
 * equivalent, so under "semantics": "nanobrag_torch" each is a 422 naming
 * it, whether or not this build parses it (docs/torch.md). */
static const char *const torch_refused[] = {"spectrum", "divergence_profile",
                                            "weights", "hc_eV_A"};

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
    return rc;
}
