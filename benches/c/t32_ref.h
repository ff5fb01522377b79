/*
 * t32_ref.h -- interface of the plain C SOBER-t32 benchmark peer (see t32_ref.c).
 *
 * Written in the ssmail project from docs/t32.md. Not QUALCOMM's code.
 */
#ifndef T32_REF_H
#define T32_REF_H

#include <stddef.h>
#include <stdint.h>

#define T32REF_N 17 /* words in the register */

/* Mirrored by `T32RefCtx` in benches/src/t32_ref_c.rs: keep the two in step. */
typedef struct t32ref_ctx {
    uint32_t r[T32REF_N]; /* the register; r[0] is the oldest word */
    uint32_t konst;       /* key-dependent constant, 0 while the key loads */
    uint32_t ctrl;        /* unused dibits of the stutter control word, lowest first */
    uint32_t dibits;      /* how many dibits are left in ctrl (0..16) */
    uint32_t sbuf;        /* unread bytes of the last output word, next one topmost */
    uint32_t nbuf;        /* how many bytes are in sbuf (0..3) */
} t32ref_ctx;

/* Key the generator (key-only mode, no IV). keylen >= 1 (the reference takes any). */
void t32ref_key(t32ref_ctx *c, const unsigned char *key, int keylen);

/* XOR the next nbytes of keystream into buf. The stream continues across calls. */
void t32ref_stream(t32ref_ctx *c, unsigned char *buf, size_t nbytes);

/* sizeof(t32ref_ctx), so the Rust mirror can be checked. */
size_t t32ref_ctx_size(void);

#endif /* T32_REF_H */
