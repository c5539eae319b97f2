/* golden.c - test-only: reads the golden JSON cases with jansson into
 * bg_params and expected arrays, so core tests can run every case without
 * the core knowing JSON. */
#include "tests/support/golden.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_real(json_t *v, bg_opt_real *o)
{
    if (!json_is_number(v))
        return -1;
    o->given = true;
    o->value = json_number_value(v);
    return 0;
}

static int set_count(json_t *v, bg_opt_count *o)
{
    if (!json_is_integer(v))
        return -1;
    o->given = true;
    o->value = (int64_t)json_integer_value(v);
    return 0;
}

static int set_vec(json_t *v, bg_opt_vec3 *o)
{
    if (!json_is_array(v) || json_array_size(v) != 3)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_number(e))
            return -1;
        o->v[i] = json_number_value(e);
    }
    o->given = true;
    return 0;
}

static int set_field(bg_params *p, const char *k, json_t *v)
{
    const struct {
        const char *name;
        bg_opt_real *o;
    } reals[] = {
        {"lambda_A", &p->lambda_A},
        {"energy_eV", &p->energy_eV},
        {"dispersion_percent", &p->dispersion_percent},
        {"dispstep_percent", &p->dispstep_percent},
        {"divergence_mrad", &p->divergence_mrad},
        {"hdivrange_mrad", &p->hdivrange_mrad},
        {"vdivrange_mrad", &p->vdivrange_mrad},
        {"hdivstep_mrad", &p->hdivstep_mrad},
        {"vdivstep_mrad", &p->vdivstep_mrad},
        {"source_distance_mm", &p->source_distance_mm},
    };
    const struct {
        const char *name;
        bg_opt_count *o;
    } counts[] = {
        {"dispsteps", &p->dispsteps},
        {"divsteps", &p->divsteps},
        {"hdivsteps", &p->hdivsteps},
        {"vdivsteps", &p->vdivsteps},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        if (strcmp(k, reals[i].name) == 0)
            return set_real(v, reals[i].o);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (strcmp(k, counts[i].name) == 0)
            return set_count(v, counts[i].o);
    if (strcmp(k, "beam_vector") == 0)
        return set_vec(v, &p->beam_vector);
    if (strcmp(k, "polar_vector") == 0)
        return set_vec(v, &p->polar_vector);
    if (strcmp(k, "round_div") == 0) {
        if (!json_is_boolean(v))
            return -1;
        p->round_div = json_is_true(v);
        return 0;
    }
    if (strcmp(k, "convention") == 0) {
        p->convention_given = true;
        return json_is_string(v) ? bg_convention_from_name(json_string_value(v),
                                                           &p->convention)
                                 : -1;
    }
    return -1;
}

int golden_params_from_object(json_t *req, bg_params *p)
{
    bg_params_init(p);
    if (!json_is_object(req))
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(req, k, v)
    {
        if (set_field(p, k, v) != 0)
            return -1;
    }
    return 0;
}

int golden_params_from_json(const char *json, bg_params *p)
{
    json_t *req = json_loads(json, 0, NULL);
    int rc = req ? golden_params_from_object(req, p) : -1;
    json_decref(req);
    return rc;
}

double *golden_read_rows(json_t *a, size_t count, size_t width)
{
    if (!json_is_array(a) || json_array_size(a) != count)
        return NULL;
    double *out = calloc(count * width + 1, sizeof *out);
    for (size_t i = 0; out && i < count; i++) {
        json_t *row = json_array_get(a, i);
        for (size_t c = 0; c < width; c++) {
            json_t *e = width == 1 ? row : json_array_get(row, c);
            if (!json_is_number(e)) {
                free(out);
                return NULL;
            }
            out[i * width + c] = json_number_value(e);
        }
    }
    return out;
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void read_resolved(json_t *o, golden_resolved *r)
{
    r->hdivsteps = (int64_t)json_integer_value(json_object_get(o, "hdivsteps"));
    r->vdivsteps = (int64_t)json_integer_value(json_object_get(o, "vdivsteps"));
    r->dispsteps = (int64_t)json_integer_value(json_object_get(o, "dispsteps"));
    r->hdivrange_mrad = num(o, "hdivrange_mrad");
    r->hdivstep_mrad = num(o, "hdivstep_mrad");
    r->vdivrange_mrad = num(o, "vdivrange_mrad");
    r->vdivstep_mrad = num(o, "vdivstep_mrad");
    r->dispersion_percent = num(o, "dispersion_percent");
    r->dispstep_percent = num(o, "dispstep_percent");
    r->lambda_A = num(o, "lambda_A");
}

int golden_load(const char *path, golden_case *out)
{
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : path);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, jerr.text);
        return -1;
    }
    int rc = -1;
    if (golden_params_from_object(json_object_get(root, "request"),
                                  &out->params))
        goto done;
    json_t *st = json_object_get(root, "expect_status");
    if (st != NULL) {
        out->expect_status = (int)json_integer_value(st);
        rc = 0;
        goto done;
    }
    out->count = (uint64_t)json_integer_value(json_object_get(root, "count"));
    read_resolved(json_object_get(root, "resolved"), &out->resolved);
    size_t n = (size_t)out->count;
    out->dir = golden_read_rows(json_object_get(root, "directions"), n, 3);
    out->pos = golden_read_rows(json_object_get(root, "positions_m"), n, 3);
    out->weight = golden_read_rows(json_object_get(root, "weights"), n, 1);
    out->lambda =
        golden_read_rows(json_object_get(root, "wavelengths_m"), n, 1);
    if (out->dir && out->pos && out->weight && out->lambda)
        rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "%s: malformed golden case\n", path);
    json_decref(root);
    return rc;
}

void golden_free(golden_case *c)
{
    free(c->dir);
    free(c->pos);
    free(c->weight);
    free(c->lambda);
    memset(c, 0, sizeof *c);
}
