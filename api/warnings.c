/* warnings.c - the warnings of an answer (api/warnings.h): the list, the
 * rules that derive warnings from resolved parameters and a grid, and their
 * JSON and header forms. */
#include "api/warnings.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void bgapi_warnings_init(bgapi_warnings *w)
{
    memset(w, 0, sizeof *w);
}

int bgapi_warnings_add(bgapi_warnings *w, const char *field, const char *fmt,
                       ...)
{
    if (w->count >= BGAPI_WARNINGS_MAX)
        return -1;
    bgapi_warning *it = &w->items[w->count++];
    snprintf(it->field, sizeof it->field, "%s", field != NULL ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof it->message, fmt, ap);
    va_end(ap);
    return 0;
}

/* The field to blame for an empty list: the axis with no step, else the
 * trim. */
static const char *empty_field(const bg_resolved *r)
{
    if (r->hdiv.count == 0)
        return "hdivsteps";
    if (r->vdiv.count == 0)
        return "vdivsteps";
    return "round_div";
}

/* What the PyTorch port read and ignored (docs/torch.md, "Warnings"). */
static void torch_warnings(const bg_resolved *r, const bg_grid *g,
                           bgapi_warnings *w)
{
    if (r->ignored & BG_IGNORED_DIVSTEPS)
        bgapi_warnings_add(w, "divsteps",
                           "the PyTorch port never reads divsteps: it was "
                           "ignored; give hdivsteps and vdivsteps");
    if (r->ignored & BG_IGNORED_BEAM_VECTOR)
        bgapi_warnings_add(w, "beam_vector",
                           "the PyTorch port ignores beam_vector for the "
                           "sources; it only makes the convention CUSTOM: "
                           "beam (0,0,1), polarization (0,1,0)");
    if (r->ignored & BG_IGNORED_POLAR_VECTOR)
        bgapi_warnings_add(w, "polar_vector",
                           "the PyTorch port ignores polar_vector for the "
                           "sources; it only makes the convention CUSTOM: "
                           "beam (0,0,1), polarization (0,1,0)");
    if (r->ignored & BG_IGNORED_LAMBDA_A)
        bgapi_warnings_add(w, "lambda_A",
                           "the PyTorch port takes energy_eV over lambda_A: "
                           "lambda_A was ignored");
    if (g != NULL && g->count == 1 && g->points == 0)
        bgapi_warnings_add(w, empty_field(r),
                           "no divergence point was left (%s): the PyTorch "
                           "port then returns one source at +z (0,0,1), "
                           "weight 1, lambda0",
                           r->hdiv.count == 0 || r->vdiv.count == 0
                               ? "an axis resolved to 0 steps"
                               : "every point trimmed by round_div");
}

/* A central wavelength outside the X-ray band (docs/semantics.md §6):
 * below it, most likely lambda_A in metres; above it, energy_eV in keV. */
static void wavelength_warning(const bg_resolved *r, bgapi_warnings *w)
{
    double lambda_A = r->lambda0_m * 1e10;
    if (lambda_A >= BGAPI_WARN_LAMBDA_MIN_A &&
        lambda_A <= BGAPI_WARN_LAMBDA_MAX_A)
        return;
    bool shorter = lambda_A < BGAPI_WARN_LAMBDA_MIN_A;
    bgapi_warnings_add(
        w, shorter ? "lambda_A" : "energy_eV",
        "a wavelength of %.6g A (%.6g eV) is outside the X-ray band "
        "(%g-%g A); lambda_A is in Angstrom and energy_eV in eV%s",
        lambda_A, r->hc_eV_A / lambda_A, BGAPI_WARN_LAMBDA_MIN_A,
        BGAPI_WARN_LAMBDA_MAX_A,
        shorter ? " (was it given in metres?)" : " (was it given in keV?)");
}

/* Divergence ranges wider than any X-ray beam's (docs/semantics.md §6):
 * most often a count given alone, which nanoBragg spreads over 1 rad. */
static void divergence_warning(const bg_resolved *r, bgapi_warnings *w)
{
    bool h = r->hdiv.range > BGAPI_WARN_DIVERGENCE_MAX_RAD;
    bool v = r->vdiv.range > BGAPI_WARN_DIVERGENCE_MAX_RAD;
    if (!h && !v)
        return;
    const char *field = h && v ? "divergence_mrad"
                        : h    ? "hdivrange_mrad"
                               : "vdivrange_mrad";
    bgapi_warnings_add(
        w, field,
        "a divergence range of %.6g mrad is far wider than X-ray beams "
        "(at most about %g mrad); a count alone (divsteps, hdivsteps, "
        "vdivsteps) spreads the points over 1 rad: give divergence_mrad or "
        "hdivrange_mrad/vdivrange_mrad",
        (h ? r->hdiv.range : r->vdiv.range) * 1000.0,
        BGAPI_WARN_DIVERGENCE_MAX_RAD * 1000.0);
}

/* A dispersion wider than X-ray bandwidths (docs/semantics.md §6). */
static void dispersion_warning(const bg_resolved *r, bgapi_warnings *w)
{
    if (r->disp.range <= BGAPI_WARN_DISPERSION_MAX)
        return;
    bgapi_warnings_add(w, "dispersion_percent",
                       "a dispersion of %.6g %% of the wavelength is wider "
                       "than X-ray bandwidths (at most about %g %%); "
                       "dispersion_percent is in percent",
                       r->disp.range * 100.0,
                       BGAPI_WARN_DISPERSION_MAX * 100.0);
}

void bgapi_warnings_of(const bg_resolved *r, const bg_grid *g,
                       bgapi_warnings *w)
{
    bgapi_warnings_init(w);
    if (r->semantics == BG_SEM_TORCH)
        torch_warnings(r, g, w);
    wavelength_warning(r, w);
    divergence_warning(r, w);
    dispersion_warning(r, w);
}

/* s as a JSON string body (no quotes) at out; returns the length. */
static size_t json_escape(const char *s, char *out)
{
    size_t o = 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        else if (c == '"' || c == '\\')
            out[o++] = '\\', out[o++] = (char)c;
        else
            out[o++] = (char)c;
    }
    return o;
}

size_t bgapi_warnings_json(const bgapi_warnings *w, char *out)
{
    if (w->count == 0)
        return 0;
    size_t o = 0;
    o += (size_t)sprintf(out, ",\"warnings\":[");
    for (size_t i = 0; i < w->count; i++) {
        o += (size_t)sprintf(out + o, "%s{\"field\":\"", i > 0 ? "," : "");
        o += json_escape(w->items[i].field, out + o);
        o += (size_t)sprintf(out + o, "\",\"message\":\"");
        o += json_escape(w->items[i].message, out + o);
        o += (size_t)sprintf(out + o, "\"}");
    }
    out[o++] = ']';
    return o;
}

size_t bgapi_warning_header(const bgapi_warning *it, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    int n = it->field[0] != '\0'
                ? snprintf(out, cap, "%s: %s", it->field, it->message)
                : snprintf(out, cap, "%s", it->message);
    size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            out[i] = '?';
    out[len] = '\0';
    return len;
}
