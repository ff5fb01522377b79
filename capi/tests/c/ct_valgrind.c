/* Constant time through libssmail's C entry points, checked by valgrind memcheck: the
 * secret inputs are marked undefined (VALGRIND_MAKE_MEM_UNDEFINED), so memcheck reports
 * any branch or memory address that depends on them (the method of
 * bigint-x86/examples/ct_valgrind.rs, here across the C ABI).
 *
 * Checked: ssmail_dh_public_key (private key secret), ssmail_dh_shared_secret (private
 * key secret; the peer key is public), ssmail_derive_keys (shared secret secret), and
 * ssmail_cipher_restore and ssmail_cipher_save of both ciphers' saved states (the
 * connection cache's path), with every secret part of the state undefined. Not checked:
 * keying and running the ciphers, whose table lookups are indexed by secret state by
 * design (README "Security position"). Outside valgrind the requests do nothing.
 *
 * Three negative controls show this check can fail: `ct_valgrind --leak` branches on a
 * secret byte in C, `ct_valgrind --leak-cipher` keys arrsyfor_1.0 (RC4, whose key
 * schedule indexes its table by key bytes) with a secret key inside the library, and
 * `ct_valgrind --leak-restore` restores a t32 state with its dibit count (a position
 * counter restore checks, public in the real check) marked secret; memcheck must report
 * all three.
 * Run: valgrind --error-exitcode=1 ./ct_valgrind [--leak|--leak-cipher|--leak-restore] */
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

/* A saved state's layout (ciphers/src/saved.rs, t32.rs, arrsyfor.rs): a tag byte, then
 * for t32 the 17 register words, the key constant, the control word, its dibit count,
 * the tail word and the tail length (86 bytes); for arrsyfor the 256-entry permutation,
 * i and j (259 bytes). Secret: everything the keystream is computed from. Public: the
 * tag, and the counters of how far the stream has gone (t32's dibit count and tail
 * length, arrsyfor's i), which follow from the byte count. */
#define T32_DIBITS 77
#define T32_TAIL 81
#define T32_TAIL_LEN 85
#define ARRSYFOR_I 257

/* Restores a secret saved state of `name` and saves it again: memcheck reports any
 * branch or address that depends on the undefined bytes. With `leak`, t32's dibit count
 * is marked secret too, which restore checks by design: the negative control. */
static int check_saved(const char *name, int leak) {
  static const uint8_t key[10] = {0x61, 0x8a, 0x63, 0xd2, 0xfb, 0x01, 0x02, 0x03, 0x04, 0x05};
  uint8_t buf[37] = {0}, saved[SSMAIL_CIPHER_SAVED_MAX], again[SSMAIL_CIPHER_SAVED_MAX];
  size_t len = 0, len2 = 0;
  ssmail_cipher *c = NULL, *r = NULL;
  /* Keyed and run on public bytes: only restore and save are under test. 37 bytes
   * leave t32 part way through a word, so its tail is saved too. */
  ssmail_result rc = ssmail_cipher_new(name, key, sizeof key, &c);
  if (rc != SSMAIL_OK) return fail("ssmail_cipher_new", rc);
  ssmail_cipher_apply(c, buf, sizeof buf);
  rc = ssmail_cipher_save(c, saved, sizeof saved, &len);
  ssmail_cipher_free(c);
  if (rc != SSMAIL_OK) return fail("ssmail_cipher_save", rc);
  int t32 = strcmp(name, "t32_1.0") == 0;
  if (len != (t32 ? 86u : 259u)) {
    fprintf(stderr, "ct_valgrind: %s saved %zu bytes\n", name, len);
    return 1;
  }

  SECRET(saved + 1, len - 1);
  if (t32) {
    if (!leak) PUBLIC(saved + T32_DIBITS, 4);
    PUBLIC(saved + T32_TAIL_LEN, 1);
  } else {
    PUBLIC(saved + ARRSYFOR_I, 1);
  }
  rc = ssmail_cipher_restore(saved, len, &r);
  PUBLIC(&rc, sizeof rc);
  if (rc != SSMAIL_OK) return fail("ssmail_cipher_restore", rc);
  rc = ssmail_cipher_save(r, again, sizeof again, &len2);
  PUBLIC(&rc, sizeof rc);
  PUBLIC(&len2, sizeof len2);
  ssmail_cipher_free(r);
  if (rc != SSMAIL_OK) return fail("ssmail_cipher_save (restored)", rc);

  /* The round trip is exact (compared only now, declassified: the test's own check). */
  PUBLIC(saved, len);
  PUBLIC(again, len2);
  if (len2 != len || memcmp(saved, again, len) != 0) {
    fprintf(stderr, "ct_valgrind: %s: the restored state saves differently\n", name);
    return 1;
  }
  return 0;
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

  if (argc > 1 && strcmp(argv[1], "--leak-restore") == 0) {
    int bad = check_saved("t32_1.0", 1);
    printf("ct_valgrind --leak-restore: restored t32 with a secret dibit count (%d)\n", bad);
    return bad;
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

  if (check_saved("t32_1.0", 0) != 0 || check_saved("arrsyfor_1.0", 0) != 0) return 1;
  printf("ct_valgrind: public keys, shared secrets, key derivation and saved cipher states"
         " ran on undefined secrets (c2s[0]=%02x)\n", c2s[0]);
  return 0;
}
