/* Constant time through libssmail's C entry points, checked by valgrind memcheck: the
 * secret inputs are marked undefined (VALGRIND_MAKE_MEM_UNDEFINED), so memcheck reports
 * any branch or memory address that depends on them (the method of
 * bigint-x86/examples/ct_valgrind.rs, here across the C ABI).
 *
 * Checked: ssmail_dh_public_key (private key secret), ssmail_dh_shared_secret (private
 * key secret; the peer key is public), ssmail_derive_keys (shared secret secret). Not
 * checked: the ciphers, whose table lookups are indexed by secret state by design
 * (README "Security position"). Outside valgrind the requests do nothing.
 *
 * Two negative controls show this check can fail: `ct_valgrind --leak` branches on a
 * secret byte in C, and `ct_valgrind --leak-cipher` keys arrsyfor_1.0 (RC4, whose key
 * schedule indexes its table by key bytes) with a secret key inside the library; memcheck
 * must report both. Run: valgrind --error-exitcode=1 ./ct_valgrind [--leak|--leak-cipher] */
#include <stdio.h>
#include <string.h>

#include <ssmail.h>
#include <valgrind/memcheck.h>

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int fail(const char *what, ssmail_result rc) {
  fprintf(stderr, "ct_valgrind: %s: %s\n", what, ssmail_result_str(rc));
  return 1;
}

int main(int argc, char **argv) {
  uint8_t ra[96], rb[96], ka[96], kb[96], za[96], zb[96];
  uint8_t na[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nb[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  uint8_t c2s[10], s2c[10];
  /* Fixed keys well inside [2, p-2] (the top byte 0x5a < p's 0xff). */
  for (int i = 0; i < 96; i++) {
    ra[i] = (uint8_t)(i * 151 + 7);
    rb[i] = (uint8_t)(i * 89 + 3);
  }
  ra[0] = 0x5a;
  rb[0] = 0x3c;

  if (argc > 1 && strcmp(argv[1], "--leak") == 0) {
    volatile int sink = 0;
    SECRET(ra, sizeof ra);
    if (ra[17] & 1) sink++; /* a branch on a secret: memcheck must see it */
    PUBLIC(ra, sizeof ra);
    printf("ct_valgrind --leak: branched on a secret byte (%d)\n", sink);
    return 0;
  }

  if (argc > 1 && strcmp(argv[1], "--leak-cipher") == 0) {
    ssmail_cipher *c = NULL;
    uint8_t buf[16] = {0};
    SECRET(ra, 10);
    ssmail_result rc = ssmail_cipher_new("arrsyfor_1.0", ra, 10, &c);
    ssmail_cipher_apply(c, buf, sizeof buf);
    ssmail_cipher_free(c);
    PUBLIC(buf, sizeof buf);
    printf("ct_valgrind --leak-cipher: keyed arrsyfor with a secret key (%s)\n",
           ssmail_result_str(rc));
    return 0;
  }

  ssmail_result rc;
  SECRET(ra, sizeof ra);
  rc = ssmail_dh_public_key(ra, ka);
  PUBLIC(&rc, sizeof rc);
  if (rc != SSMAIL_OK) return fail("ssmail_dh_public_key", rc);
  PUBLIC(ka, sizeof ka); /* a public key is public */

  SECRET(rb, sizeof rb);
  rc = ssmail_dh_public_key(rb, kb);
  PUBLIC(&rc, sizeof rc);
  if (rc != SSMAIL_OK) return fail("ssmail_dh_public_key", rc);
  PUBLIC(kb, sizeof kb);

  rc = ssmail_dh_shared_secret(ra, kb, za);
  PUBLIC(&rc, sizeof rc);
  if (rc != SSMAIL_OK) return fail("ssmail_dh_shared_secret", rc);
  rc = ssmail_dh_shared_secret(rb, ka, zb);
  PUBLIC(&rc, sizeof rc);
  if (rc != SSMAIL_OK) return fail("ssmail_dh_shared_secret", rc);

  /* za is still secret here (it came from a secret): the derivation sees it undefined. */
  rc = ssmail_derive_keys(za, na, nb, c2s, s2c);
  PUBLIC(&rc, sizeof rc);
  if (rc != SSMAIL_OK) return fail("ssmail_derive_keys", rc);

  /* Both sides agree (compared only now, declassified: the test's own check). */
  PUBLIC(za, sizeof za);
  PUBLIC(zb, sizeof zb);
  if (memcmp(za, zb, sizeof za) != 0) {
    fprintf(stderr, "ct_valgrind: the two sides' secrets differ\n");
    return 1;
  }
  PUBLIC(c2s, sizeof c2s);
  PUBLIC(s2c, sizeof s2c);
  printf("ct_valgrind: public keys, shared secrets and key derivation ran on undefined secrets"
         " (c2s[0]=%02x)\n", c2s[0]);
  return 0;
}
