/* siphash.c - SipHash-2-4, written from the paper (section 2): four 64-bit
 * words of state initialized from the key and the constants
 * "somepseudorandomlygeneratedbytes", c = 2 SipRounds per 8-byte message
 * word, the last word carrying the message length mod 256 in its top byte,
 * then 0xff into v2 and d = 4 SipRounds; the output is v0^v1^v2^v3. */
#include "api/siphash.h"

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

typedef struct {
    uint64_t v0, v1, v2, v3;
} sip_state;

static void sip_round(sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static void sip_compress(sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t bgapi_siphash24(const unsigned char key[BGAPI_SIPHASH_KEY_LEN],
                         const void *data, size_t len)
{
    const unsigned char *in = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    sip_state s = {
        k0 ^ UINT64_C(0x736f6d6570736575), k1 ^ UINT64_C(0x646f72616e646f6d),
        k0 ^ UINT64_C(0x6c7967656e657261), k1 ^ UINT64_C(0x7465646279746573)};
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        sip_compress(&s, load_le64(in + i));
    /* The last word: the 0..7 remaining bytes, then len mod 256 on top. */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t k = 0; i + k < len; k++)
        last |= (uint64_t)in[i + k] << (8 * k);
    sip_compress(&s, last);
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
