/* test_suggest.c - api/suggest.c: which names of a table are suggested for
 * a name a client sent, in which order, and that nothing far is. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/suggest.h"

typedef struct {
    const char *name;
    int other; /* the names sit in a table of structs, as request.c's */
} row;

static const row table[] = {
    {"lambda_A", 0},       {"energy_eV", 0},       {"dispersion_percent", 0},
    {"dispsteps", 0},      {"divergence_mrad", 0}, {"divsteps", 0},
    {"hdivrange_mrad", 0}, {"hdivsteps", 0},       {"vdivsteps", 0},
    {"beam_vector", 0},    {"polar_vector", 0},    {"round_div", 0},
};

static size_t suggest(const char *name, char *out, size_t cap)
{
    return bgapi_suggest(name, &table[0].name, sizeof table / sizeof table[0],
                         sizeof table[0], out, cap);
}

Test(suggest, prefix_and_typos)
{
    static const struct {
        const char *sent, *want;
    } cases[] = {
        {"divergence", "`divergence_mrad`"},
        {"DIVERGENCE", "`divergence_mrad`"},
        {"lambda", "`lambda_A`"},
        {"lamda_A", "`lambda_A`"},
        {"energy_keV", "`energy_eV`"},
        {"hdivrange", "`hdivrange_mrad`"},
        {"beamvector", "`beam_vector`"},
        {"divergence_mrad_x", "`divergence_mrad`"},
        {"hdivstep", "`hdivsteps`, `divsteps`, `vdivsteps`"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[160];
        size_t n = suggest(cases[i].sent, out, sizeof out);
        cr_expect_gt(n, 0, "%s: no suggestion", cases[i].sent);
        cr_expect_str_eq(out, cases[i].want, "%s: got %s", cases[i].sent, out);
    }
}

Test(suggest, at_most_three_best_first)
{
    char out[160];
    /* "div" is a prefix of two names; the prefix ones come first */
    cr_assert_eq(suggest("div", out, sizeof out), 2);
    cr_expect_str_eq(out, "`divergence_mrad`, `divsteps`");
    /* "disp" prefixes dispersion_percent and dispsteps; "dsteps" is a
     * distance of 2 from several, at most 3 are listed */
    cr_assert_leq(suggest("dsteps", out, sizeof out), BGAPI_SUGGEST_MAX);
    cr_expect_not_null(strstr(out, "`dispsteps`"));
}

Test(suggest, nothing_far)
{
    char out[160];
    static const char *const far[] = {"x", "", "temperature", "zz",
                                      "sigma_deg"};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        cr_expect_eq(suggest(far[i], out, sizeof out), 0, "%s: %s", far[i],
                     out);
        cr_expect_str_eq(out, "");
    }
    char big[200];
    memset(big, 'd', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_expect_eq(suggest(big, out, sizeof out), 0);
}

Test(suggest, truncates_whole_names)
{
    char out[24];
    size_t n = suggest("div", out, sizeof out);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(out, "`divergence_mrad`");
}
