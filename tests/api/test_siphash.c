/* test_siphash.c - api/siphash.c against the reference test vectors:
 * key 00 01 .. 0f, message 00 01 .. (n-1) for n = 0..63 (vectors_sip64 of
 * the reference implementation's vectors.h, as 64-bit values; n = 15 is
 * the paper's Appendix A example), plus its properties: keyed, pure,
 * independent of the input's alignment. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/siphash.h"

static const uint64_t vectors_sip64[64] = {
    UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd),
    UINT64_C(0x0d6c8009d9a94f5a), UINT64_C(0x85676696d7fb7e2d),
    UINT64_C(0xcf2794e0277187b7), UINT64_C(0x18765564cd99a68d),
    UINT64_C(0xcbc9466e58fee3ce), UINT64_C(0xab0200f58b01d137),
    UINT64_C(0x93f5f5799a932462), UINT64_C(0x9e0082df0ba9e4b0),
    UINT64_C(0x7a5dbbc594ddb9f3), UINT64_C(0xf4b32f46226bada7),
    UINT64_C(0x751e8fbc860ee5fb), UINT64_C(0x14ea5627c0843d90),
    UINT64_C(0xf723ca908e7af2ee), UINT64_C(0xa129ca6149be45e5),
    UINT64_C(0x3f2acc7f57c29bdb), UINT64_C(0x699ae9f52cbe4794),
    UINT64_C(0x4bc1b3f0968dd39c), UINT64_C(0xbb6dc91da77961bd),
    UINT64_C(0xbed65cf21aa2ee98), UINT64_C(0xd0f2cbb02e3b67c7),
    UINT64_C(0x93536795e3a33e88), UINT64_C(0xa80c038ccd5ccec8),
    UINT64_C(0xb8ad50c6f649af94), UINT64_C(0xbce192de8a85b8ea),
    UINT64_C(0x17d835b85bbb15f3), UINT64_C(0x2f2e6163076bcfad),
    UINT64_C(0xde4daaaca71dc9a5), UINT64_C(0xa6a2506687956571),
    UINT64_C(0xad87a3535c49ef28), UINT64_C(0x32d892fad841c342),
    UINT64_C(0x7127512f72f27cce), UINT64_C(0xa7f32346f95978e3),
    UINT64_C(0x12e0b01abb051238), UINT64_C(0x15e034d40fa197ae),
    UINT64_C(0x314dffbe0815a3b4), UINT64_C(0x027990f029623981),
    UINT64_C(0xcadcd4e59ef40c4d), UINT64_C(0x9abfd8766a33735c),
    UINT64_C(0x0e3ea96b5304a7d0), UINT64_C(0xad0c42d6fc585992),
    UINT64_C(0x187306c89bc215a9), UINT64_C(0xd4a60abcf3792b95),
    UINT64_C(0xf935451de4f21df2), UINT64_C(0xa9538f0419755787),
    UINT64_C(0xdb9acddff56ca510), UINT64_C(0xd06c98cd5c0975eb),
    UINT64_C(0xe612a3cb9ecba951), UINT64_C(0xc766e62cfcadaf96),
    UINT64_C(0xee64435a9752fe72), UINT64_C(0xa192d576b245165a),
    UINT64_C(0x0a8787bf8ecb74b2), UINT64_C(0x81b3e73d20b49b6f),
    UINT64_C(0x7fa8220ba3b2ecea), UINT64_C(0x245731c13ca42499),
    UINT64_C(0xb78dbfaf3a8d83bd), UINT64_C(0xea1ad565322a1a0b),
    UINT64_C(0x60e61c23a3795013), UINT64_C(0x6606d7e446282b93),
    UINT64_C(0x6ca4ecb15c5f91e1), UINT64_C(0x9f626da15c9625f3),
    UINT64_C(0xe51b38608ef25f57), UINT64_C(0x958a324ceb064572),
};

static void reference_inputs(unsigned char key[16], unsigned char msg[64])
{
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
}

Test(siphash, reference_vectors)
{
    unsigned char key[16], msg[64];
    reference_inputs(key, msg);
    for (size_t n = 0; n < 64; n++)
        cr_expect_eq(bgapi_siphash24(key, msg, n), vectors_sip64[n],
                     "n = %zu: %016llx", n,
                     (unsigned long long)bgapi_siphash24(key, msg, n));
}

/* The ones the brief names, spelled out so a wrong table cannot hide
 * them: the empty message, the paper's Appendix A (15 bytes), the word
 * boundaries 7, 8, 9 and 16, and the longest. */
Test(siphash, named_vectors)
{
    unsigned char key[16], msg[64];
    reference_inputs(key, msg);
    cr_expect_eq(bgapi_siphash24(key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
    cr_expect_eq(bgapi_siphash24(key, msg, 7), UINT64_C(0xab0200f58b01d137));
    cr_expect_eq(bgapi_siphash24(key, msg, 8), UINT64_C(0x93f5f5799a932462));
    cr_expect_eq(bgapi_siphash24(key, msg, 9), UINT64_C(0x9e0082df0ba9e4b0));
    cr_expect_eq(bgapi_siphash24(key, msg, 15), UINT64_C(0xa129ca6149be45e5));
    cr_expect_eq(bgapi_siphash24(key, msg, 16), UINT64_C(0x3f2acc7f57c29bdb));
    cr_expect_eq(bgapi_siphash24(key, msg, 63), UINT64_C(0x958a324ceb064572));
}

Test(siphash, keyed_and_pure)
{
    unsigned char key[16], msg[64];
    reference_inputs(key, msg);
    uint64_t h = bgapi_siphash24(key, msg, 33);
    cr_expect_eq(bgapi_siphash24(key, msg, 33), h, "same input, same hash");
    for (int bit = 0; bit < 128; bit++) {
        key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        cr_expect_neq(bgapi_siphash24(key, msg, 33), h, "key bit %d", bit);
        key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    static const unsigned char zero[16];
    cr_expect_neq(bgapi_siphash24(zero, msg, 33), h);
    /* the length is part of the input: trailing zero bytes count */
    unsigned char zeros[9] = {0};
    cr_expect_neq(bgapi_siphash24(key, zeros, 8),
                  bgapi_siphash24(key, zeros, 9));
    cr_expect_neq(bgapi_siphash24(key, zeros, 0),
                  bgapi_siphash24(key, zeros, 1));
}

Test(siphash, any_alignment)
{
    unsigned char key[16], msg[64], buf[64 + 8];
    reference_inputs(key, msg);
    for (size_t off = 0; off < 8; off++) {
        memcpy(buf + off, msg, 64);
        for (size_t n = 0; n < 64; n += 5)
            cr_expect_eq(bgapi_siphash24(key, buf + off, n), vectors_sip64[n],
                         "offset %zu, n = %zu", off, n);
    }
}
