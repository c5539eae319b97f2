/* encode_txt.c - nanoBragg's -sourcefile (docs/semantics.md §2.6): one line per
 * source, "X Y Z weight lambda\n", positions in metres, each number with
 * the 17 significant digits of printf("%.17g"), no header, "\n" endings.
 * Written line by line into the caller's buffer by bgapi_txt_fill. */
#include "api/encode_internal.h"

#define LINE_MAX_BYTES (5 * BG_FMT_DOUBLE_MAX + 5)

/* Position component i of source k: the grid's own positions when it kept
 * them (BG_GRID_POSITIONS), else the direction at the source distance. */
static double position(const bgapi_encoder *e, int axis, uint64_t k)
{
    const bg_grid *g = e->v.grid;
    const double *pos = axis == 0 ? g->px : axis == 1 ? g->py : g->pz;
    if (pos != NULL)
        return pos[k];
    const void *dir = axis == 0 ? g->x : axis == 1 ? g->y : g->z;
    return bgapi_col(dir, g->dtype, k) * e->v.resolved->source_distance_m;
}

size_t bgapi_txt_fill(bgapi_encoder *e, char *out, size_t cap)
{
    const bg_grid *g = e->v.grid;
    char *p = out, *end = out + cap;
    uint64_t k = e->index;
    if (e->stage == BGAPI_STAGE_DONE)
        return 0;
    while (k < g->count && end - p >= LINE_MAX_BYTES) {
        for (int axis = 0; axis < 3; axis++) {
            p += bgapi_memo_fmt(e, position(e, axis, k), bg_fmt_double17, p);
            *p++ = ' ';
        }
        p += bgapi_memo_fmt(e, bgapi_col(g->weight, g->dtype, k),
                            bg_fmt_double17, p);
        *p++ = ' ';
        p += bgapi_memo_fmt(e, bgapi_col(g->lambda, g->dtype, k),
                            bg_fmt_double17, p);
        *p++ = '\n';
        k++;
    }
    e->index = k;
    if (k == g->count)
        e->stage = BGAPI_STAGE_DONE;
    return (size_t)(p - out);
}

uint64_t bgapi_txt_bound(const bgapi_view *v)
{
    return v->grid->count * (uint64_t)LINE_MAX_BYTES;
}
