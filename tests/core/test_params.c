/* test_params.c - core/params.c and core/bg_error.c: defaults, convention
 * names, the message table and bg_error_set. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/bg_error.h"
#include "core/params.h"

Test(params, init_sets_defaults)
{
    bg_params p;
    memset(&p, 0xff, sizeof p);
    bg_params_init(&p);
    cr_expect(p.round_div);
    cr_expect(!p.convention_given);
    cr_expect_eq(p.convention, BG_CONV_MOSFLM);
    cr_expect(!p.lambda_A.given && !p.energy_eV.given);
    cr_expect(!p.dispersion_percent.given && !p.dispstep_percent.given);
    cr_expect(!p.dispsteps.given && !p.divsteps.given);
    cr_expect(!p.hdivsteps.given && !p.vdivsteps.given);
    cr_expect(!p.divergence_mrad.given && !p.hdivrange_mrad.given);
    cr_expect(!p.vdivrange_mrad.given && !p.hdivstep_mrad.given);
    cr_expect(!p.vdivstep_mrad.given && !p.source_distance_mm.given);
    cr_expect(!p.beam_vector.given && !p.polar_vector.given);
}

Test(params, convention_names_round_trip)
{
    for (int c = 0; c < BG_CONV_COUNT; c++) {
        bg_convention back;
        const char *name = bg_convention_name((bg_convention)c);
        cr_assert_eq(bg_convention_from_name(name, &back), 0, "%s", name);
        cr_expect_eq(back, c);
    }
    cr_expect_str_eq(bg_convention_name(BG_CONV_DIALS), "DIALS");
    cr_expect_str_eq(bg_convention_name(BG_CONV_COUNT), "UNKNOWN");
    cr_expect_str_eq(bg_convention_name((bg_convention)-1), "UNKNOWN");
}

Test(params, unknown_convention_names)
{
    bg_convention c = BG_CONV_XDS;
    cr_expect_eq(bg_convention_from_name("mosflm", &c), -1);
    cr_expect_eq(bg_convention_from_name("", &c), -1);
    cr_expect_eq(bg_convention_from_name(NULL, &c), -1);
    cr_expect_eq(c, BG_CONV_XDS, "untouched on failure");
}

Test(error, every_code_has_a_message)
{
    for (int c = 0; c < BG_STATUS_COUNT; c++) {
        const char *m = bg_strerror((bg_status)c);
        cr_assert_not_null(m);
        cr_expect_neq(m[0], '\0');
    }
    cr_expect_str_eq(bg_strerror(BG_OK), "success");
    cr_expect_not_null(bg_strerror(BG_STATUS_COUNT));
    cr_expect_not_null(bg_strerror((bg_status)-3));
}

Test(error, set_fills_and_returns_the_code)
{
    bg_error e;
    cr_expect_eq(bg_error_set(&e, BG_INVALID, "lambda_A", "bad %d", 42),
                 BG_INVALID);
    cr_expect_eq(e.code, BG_INVALID);
    cr_expect_str_eq(e.field, "lambda_A");
    cr_expect_str_eq(e.detail, "bad 42");
    cr_expect_eq(bg_error_set(NULL, BG_EMPTY, "x", "y"), BG_EMPTY);
}

Test(error, set_truncates)
{
    bg_error e;
    char longf[100], longd[600];
    memset(longf, 'f', sizeof longf - 1);
    longf[sizeof longf - 1] = '\0';
    memset(longd, 'd', sizeof longd - 1);
    longd[sizeof longd - 1] = '\0';
    bg_error_set(&e, BG_CONFLICT, longf, "%s", longd);
    cr_expect_eq(strlen(e.field), BG_ERROR_FIELD_MAX - 1);
    cr_expect_eq(strlen(e.detail), BG_ERROR_DETAIL_MAX - 1);
}
