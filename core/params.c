/* params.c - the request fields of docs/semantics.md §2.1: their defaults, the
 * names of the geometry conventions. Holds no state; everything here is a
 * table lookup or a plain initialization. */
#include "core/params.h"

#include <stdlib.h>
#include <string.h>

static const char *const bg_convention_names[BG_CONV_COUNT] = {
    [BG_CONV_MOSFLM] = "MOSFLM", [BG_CONV_XDS] = "XDS",
    [BG_CONV_DIALS] = "DIALS",   [BG_CONV_ADXV] = "ADXV",
    [BG_CONV_DENZO] = "DENZO",   [BG_CONV_CUSTOM] = "CUSTOM",
};

void bg_params_init(bg_params *p)
{
    memset(p, 0, sizeof *p);
    p->round_div = true;
    p->convention_given = false;
    p->convention = BG_CONV_MOSFLM;
    p->semantics = BG_SEM_NANOBRAGG;
    p->dtype_given = false;
    p->dtype = BG_F32;
}

void bg_params_free(bg_params *p)
{
    free(p->spectrum.lambda_A.v);
    free(p->spectrum.energy_eV.v);
    free(p->spectrum.weights.v);
    free(p->spectrum.text);
    bg_params_init(p);
}

int bg_convention_from_name(const char *name, bg_convention *out)
{
    if (name == NULL)
        return -1;
    for (int c = 0; c < BG_CONV_COUNT; c++) {
        if (strcmp(name, bg_convention_names[c]) == 0) {
            *out = (bg_convention)c;
            return 0;
        }
    }
    return -1;
}

const char *bg_convention_name(bg_convention c)
{
    if ((int)c < 0 || c >= BG_CONV_COUNT)
        return "UNKNOWN";
    return bg_convention_names[c];
}

static const char *const bg_semantics_names[BG_SEM_COUNT] = {
    [BG_SEM_NANOBRAGG] = "nanobragg",
    [BG_SEM_TORCH] = "nanobrag_torch",
};

int bg_semantics_from_name(const char *name, bg_semantics *out)
{
    if (name == NULL)
        return -1;
    for (int s = 0; s < BG_SEM_COUNT; s++) {
        if (strcmp(name, bg_semantics_names[s]) == 0) {
            *out = (bg_semantics)s;
            return 0;
        }
    }
    return -1;
}

const char *bg_semantics_name(bg_semantics s)
{
    if ((int)s < 0 || s >= BG_SEM_COUNT)
        return "unknown";
    return bg_semantics_names[s];
}
