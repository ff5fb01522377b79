/*
 * t32_ref.c -- a plain C implementation of SOBER-t32 in key-only mode (XCRYPT's t32_1.0).
 *
 * WRITTEN HERE, in the ssmail project, from the specification docs/t32.md.
 * It is NOT QUALCOMM's reference code (t32ref.c), which we could not fetch, and no one's
 * code was copied into it. It imitates the reference's straightforward style: a 17-word
 * register shifted one word per step, the multiply by alpha through four 256-entry
 * tables, a switch on the stutter dibit, and a byte buffer for partial words.
 * It serves ONLY as a benchmark peer ("t32-ref-c") standing in for QUALCOMM's reference
 * C; do not use it to protect anything. SOBER-t32 is broken by modern standards.
 */
#include "t32_ref.h"
#include "t32_sbox.h"

#define N T32REF_N
#define POLY 0x65656565u  /* x^32 mod P(x) */
#define ALPHA 0xC2DB2AA3u
#define KONST_C 0x6996C53Au

/* Big-endian bytes to word. */
#define BYTE2WORD(b) \
    (((uint32_t)(b)[0] << 24) | ((uint32_t)(b)[1] << 16) | ((uint32_t)(b)[2] << 8) | (uint32_t)(b)[3])

/* mult_tab[j][b] = alpha * (b * x^(8j)) mod P. Computed once at startup. */
static uint32_t mult_tab[4][256];

/* alpha * w in GF(2)[x]/P(x): shift and reduce, one bit of w at a time. */
static uint32_t slow_mul_alpha(uint32_t w)
{
    uint32_t a = ALPHA, res = 0;
    int i;

    for (i = 0; i < 32; ++i) {
        if (w & 1u)
            res ^= a;
        w >>= 1;
        a = (a & 0x80000000u) ? (a << 1) ^ POLY : (a << 1);
    }
    return res;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor))
#else
#error "t32_ref.c builds its tables from a constructor; needs GCC or Clang"
#endif
static void t32ref_init_tables(void)
{
    int j, b;

    for (j = 0; j < 4; ++j)
        for (b = 0; b < 256; ++b)
            mult_tab[j][b] = slow_mul_alpha((uint32_t)b << (8 * j));
}

#define MUL_ALPHA(w) \
    (mult_tab[0][(w) & 0xFF] ^ mult_tab[1][((w) >> 8) & 0xFF] \
     ^ mult_tab[2][((w) >> 16) & 0xFF] ^ mult_tab[3][(w) >> 24])

/* f(w): replace the top byte by F[top], XOR Q[top] into the low 24 bits. */
#define F(w) (t32ref_sbox[(w) >> 24] ^ ((w) & 0x00FFFFFFu))

/* One LFSR step: new = alpha*r[0] ^ r[4] ^ r[15]; shift everything down one word. */
static void cycle(uint32_t *r)
{
    uint32_t t;
    int i;

    t = MUL_ALPHA(r[0]) ^ r[4] ^ r[15];
    for (i = 0; i < N - 1; ++i)
        r[i] = r[i + 1];
    r[N - 1] = t;
}

/* The non-linear filter on the register as it stands. */
static uint32_t nltap(const t32ref_ctx *c)
{
    uint32_t t;

    t = c->r[0] + c->r[16];
    t = F(t) + c->r[1] + c->r[6];
    t ^= c->konst;
    return t + c->r[13];
}

/* Absorb one key word. */
static void addkey(t32ref_ctx *c, uint32_t w)
{
    c->r[15] += w;
    cycle(c->r);
    c->r[4] ^= nltap(c);
}

/* Absorb key material: an odd-length head first, then big-endian words. */
static void loadkey(t32ref_ctx *c, const unsigned char *key, int keylen)
{
    int i = 0, h = keylen & 3;
    uint32_t w;

    if (h != 0) {
        w = 0;
        for (; i < h; ++i)
            w = (w << 8) | key[i];
        addkey(c, w);
    }
    for (; i < keylen; i += 4)
        addkey(c, BYTE2WORD(&key[i]));

    c->r[15] += (uint32_t)keylen;

    for (i = 0; i < 17; ++i) {
        cycle(c->r);
        c->r[4] ^= nltap(c);
    }
}

void t32ref_key(t32ref_ctx *c, const unsigned char *key, int keylen)
{
    int i;

    /* Fibonacci numbers 1, 1, 2, 3, 5, ... */
    c->r[0] = c->r[1] = 1;
    for (i = 2; i < N; ++i)
        c->r[i] = c->r[i - 1] + c->r[i - 2];
    c->konst = 0;

    loadkey(c, key, keylen);

    cycle(c->r);
    c->konst = nltap(c);

    c->ctrl = 0;
    c->dibits = 0;
    c->sbuf = 0;
    c->nbuf = 0;
}

/* The next output word, with stutter. */
static uint32_t nextword(t32ref_ctx *c)
{
    uint32_t t;

    for (;;) {
        if (c->dibits == 0) {
            cycle(c->r);
            c->ctrl = nltap(c);
            c->dibits = 16;
        }
        t = c->ctrl & 3;
        c->ctrl >>= 2;
        --c->dibits;

        cycle(c->r);
        switch (t) {
        case 0:
            /* no output */
            break;
        case 1:
            t = nltap(c) ^ KONST_C;
            cycle(c->r);
            return t;
        case 2:
            cycle(c->r);
            return nltap(c);
        case 3:
            return nltap(c) ^ ~KONST_C;
        }
    }
}

void t32ref_stream(t32ref_ctx *c, unsigned char *buf, size_t nbytes)
{
    uint32_t t;

    /* Bytes left over from the last word, most significant first. */
    while (c->nbuf != 0 && nbytes != 0) {
        *buf++ ^= (unsigned char)(c->sbuf >> 24);
        c->sbuf <<= 8;
        --c->nbuf;
        --nbytes;
    }

    /* Whole words. */
    while (nbytes >= 4) {
        t = nextword(c);
        buf[0] ^= (unsigned char)(t >> 24);
        buf[1] ^= (unsigned char)(t >> 16);
        buf[2] ^= (unsigned char)(t >> 8);
        buf[3] ^= (unsigned char)t;
        buf += 4;
        nbytes -= 4;
    }

    /* A partial word: keep the rest for the next call. */
    if (nbytes != 0) {
        c->sbuf = nextword(c);
        c->nbuf = 4;
        while (nbytes != 0) {
            *buf++ ^= (unsigned char)(c->sbuf >> 24);
            c->sbuf <<= 8;
            --c->nbuf;
            --nbytes;
        }
    }
}

size_t t32ref_ctx_size(void)
{
    return sizeof(t32ref_ctx);
}
