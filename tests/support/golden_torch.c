/* golden_torch.c - test-only: reads the tests/golden-torch cases with
 * jansson (see golden_torch.h). */
#include "tests/support/golden_torch.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/golden.h"

static void gt_axis(json_t *o, bg_axis *a)
{
    a->count = (int64_t)json_integer_value(json_object_get(o, "count"));
    a->range = json_number_value(json_object_get(o, "range"));
    a->step = json_number_value(json_object_get(o, "step"));
}

static void gt_vec(json_t *a, double v[3])
{
    for (size_t i = 0; i < 3; i++)
        v[i] = json_number_value(json_array_get(a, i));
}

int gt_load(const char *path, gt_case *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, jerr.text);
        return -1;
    }
    int rc = -1;
    snprintf(out->name, sizeof out->name, "%s",
             json_string_value(json_object_get(root, "name")));
    const char *dt = json_string_value(json_object_get(root, "dtype"));
    out->dtype = dt != NULL && strcmp(dt, "float64") == 0 ? BG_F64 : BG_F32;
    json_t *params = json_deep_copy(json_object_get(root, "params"));
    if (params == NULL || golden_params_from_object(params, &out->params) != 0)
        goto done;
    out->params.semantics = BG_SEM_TORCH;
    out->params.dtype_given = true;
    out->params.dtype = out->dtype;
    json_object_set_new(params, "semantics", json_string("nanobrag_torch"));
    json_object_set_new(params, "dtype", json_string(dt));
    out->params_json = json_dumps(params, JSON_COMPACT);
    json_t *pr = json_object_get(root, "port_resolved");
    gt_axis(json_object_get(pr, "hdiv"), &out->hdiv);
    gt_axis(json_object_get(pr, "vdiv"), &out->vdiv);
    gt_axis(json_object_get(pr, "disp"), &out->disp);
    out->lambda0_m =
        json_number_value(json_object_get(pr, "central_wavelength_m"));
    gt_vec(json_object_get(pr, "beam_direction"), out->beam);
    gt_vec(json_object_get(pr, "polarization_axis"), out->polar);
    out->count = (uint64_t)json_integer_value(json_object_get(root, "count"));
    size_t n = (size_t)out->count;
    out->dir = golden_read_rows(json_object_get(root, "directions"), n, 3);
    out->weight = golden_read_rows(json_object_get(root, "weights"), n, 1);
    out->lambda =
        golden_read_rows(json_object_get(root, "wavelengths_m"), n, 1);
    if (out->dir && out->weight && out->lambda && out->params_json)
        rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "%s: malformed golden-torch case\n", path);
    json_decref(params);
    json_decref(root);
    return rc;
}

void gt_free(gt_case *c)
{
    free(c->params_json);
    free(c->dir);
    free(c->weight);
    free(c->lambda);
    memset(c, 0, sizeof *c);
}
