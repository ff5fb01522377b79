/* Every error path of libssmail's C API: NULL pointers, zero and too-long key lengths,
 * unknown versions, peer keys 0, 1, p-1, p and above p, private keys out of range, the
 * no-op cases of ssmail_cipher_apply and the _free calls, short output buffers, an
 * unusable cache file, and calls out of turn on the exchange handles. Each error must come
 * back as its own code, leave outputs NULL or zeroed, and never crash. */
#include "check.h"

static const uint8_t ZERO96[96];

static int all_zero(const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

static void cipher_errors(void) {
  uint8_t key[300];
  memset(key, 0x5a, sizeof key);
  ssmail_cipher *c = (ssmail_cipher *)&c; /* not NULL, so a reset to NULL shows */

  CHECK_RC(ssmail_cipher_new("t32_1.0", key, 10, NULL), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_cipher_new(NULL, key, 10, &c), SSMAIL_ERR_NULL_POINTER);
  CHECK(c == NULL);
  c = (ssmail_cipher *)&c;
  CHECK_RC(ssmail_cipher_new("t32_1.0", NULL, 10, &c), SSMAIL_ERR_NULL_POINTER);
  CHECK(c == NULL);
  /* A zero length is a bad length whatever the pointer. */
  CHECK_RC(ssmail_cipher_new("t32_1.0", NULL, 0, &c), SSMAIL_ERR_BAD_KEY_LENGTH);
  CHECK_RC(ssmail_cipher_new("arrsyfor_1.0", key, 0, &c), SSMAIL_ERR_BAD_KEY_LENGTH);

  /* Lengths at and past each version's bounds. */
  CHECK_RC(ssmail_cipher_new("t32_1.0", key, 33, &c), SSMAIL_ERR_BAD_KEY_LENGTH);
  CHECK(c == NULL);
  CHECK_RC(ssmail_cipher_new("arrsyfor_1.0", key, 257, &c), SSMAIL_ERR_BAD_KEY_LENGTH);
  CHECK_RC(ssmail_cipher_new("t32_1.0", key, SIZE_MAX, &c), SSMAIL_ERR_BAD_KEY_LENGTH);
  size_t ok_lengths[][2] = {{0, 1}, {0, 32}, {1, 1}, {1, 256}};
  for (size_t i = 0; i < 4; i++) {
    const char *v = ok_lengths[i][0] ? "arrsyfor_1.0" : "t32_1.0";
    CHECK_RC(ssmail_cipher_new(v, key, ok_lengths[i][1], &c), SSMAIL_OK);
    CHECK(c != NULL);
    ssmail_cipher_free(c);
  }

  /* Versions: only the two exact names. */
  const char *bad[] = {"", "t32", "t32_1.0 ", "T32_1.0", "arrsyfor_1.1", "arrsyfor_1.0x",
                       "a string longer than any version name"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    c = (ssmail_cipher *)&c;
    CHECK_RC(ssmail_cipher_new(bad[i], key, 10, &c), SSMAIL_ERR_BAD_VERSION);
    CHECK(c == NULL);
  }

  /* apply: NULL cipher or NULL buffer does nothing; a zero length changes nothing and
   * does not advance the keystream. */
  uint8_t buf[16] = {0}, ref[16] = {0};
  ssmail_cipher_apply(NULL, buf, sizeof buf);
  CHECK(all_zero(buf, sizeof buf));
  CHECK_RC(ssmail_cipher_new("arrsyfor_1.0", key, 10, &c), SSMAIL_OK);
  ssmail_cipher_apply(c, NULL, 16);
  ssmail_cipher_apply(c, buf, 0);
  CHECK(all_zero(buf, sizeof buf));
  ssmail_cipher_apply(c, buf, sizeof buf);
  ssmail_cipher_free(c);
  CHECK_RC(ssmail_cipher_new("arrsyfor_1.0", key, 10, &c), SSMAIL_OK);
  ssmail_cipher_apply(c, ref, sizeof ref);
  ssmail_cipher_free(c);
  CHECK(memcmp(buf, ref, sizeof buf) == 0);
  CHECK(!all_zero(buf, sizeof buf));

  ssmail_cipher_free(NULL);

  /* save/restore: NULLs, a short buffer, and bytes save cannot have written. */
  uint8_t saved[SSMAIL_CIPHER_SAVED_MAX + 1];
  size_t n = 99;
  CHECK_RC(ssmail_cipher_new("t32_1.0", key, 10, &c), SSMAIL_OK);
  CHECK_RC(ssmail_cipher_save(NULL, saved, sizeof saved, &n), SSMAIL_ERR_NULL_POINTER);
  CHECK(n == 0);
  CHECK_RC(ssmail_cipher_save(c, NULL, sizeof saved, &n), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_cipher_save(c, saved, sizeof saved, NULL), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_cipher_save(c, saved, 10, &n), SSMAIL_ERR_BUFFER_TOO_SHORT);
  CHECK(n == 0);
  CHECK_RC(ssmail_cipher_save(c, saved, sizeof saved, &n), SSMAIL_OK);
  CHECK(n > 1 && n <= SSMAIL_CIPHER_SAVED_MAX);
  ssmail_cipher_free(c);
  c = (ssmail_cipher *)&c;
  CHECK_RC(ssmail_cipher_restore(NULL, n, &c), SSMAIL_ERR_NULL_POINTER);
  CHECK(c == NULL);
  CHECK_RC(ssmail_cipher_restore(saved, n, NULL), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_cipher_restore(saved, n - 1, &c), SSMAIL_ERR_BAD_SAVED_STATE);
  CHECK_RC(ssmail_cipher_restore(saved, n + 1, &c), SSMAIL_ERR_BAD_SAVED_STATE);
  CHECK_RC(ssmail_cipher_restore(saved, 0, &c), SSMAIL_ERR_BAD_SAVED_STATE);
  CHECK_RC(ssmail_cipher_restore(saved, SIZE_MAX, &c), SSMAIL_ERR_BAD_SAVED_STATE);
  CHECK(c == NULL);
  saved[0] ^= 0x7f; /* unknown cipher */
  CHECK_RC(ssmail_cipher_restore(saved, n, &c), SSMAIL_ERR_BAD_SAVED_STATE);
  saved[0] ^= 0x7f;
  CHECK_RC(ssmail_cipher_restore(saved, n, &c), SSMAIL_OK);
  CHECK(c != NULL);
  ssmail_cipher_free(c);
  /* An arrsyfor state whose permutation repeats an entry. */
  CHECK_RC(ssmail_cipher_new("arrsyfor_1.0", key, 10, &c), SSMAIL_OK);
  CHECK_RC(ssmail_cipher_save(c, saved, sizeof saved, &n), SSMAIL_OK);
  CHECK(n == SSMAIL_CIPHER_SAVED_MAX);
  ssmail_cipher_free(c);
  saved[2] = saved[1];
  CHECK_RC(ssmail_cipher_restore(saved, n, &c), SSMAIL_ERR_BAD_SAVED_STATE);
  CHECK(c == NULL);
}

static void dh_errors(void) {
  uint8_t r[96], out[96], p_minus_1[96], p[96], one[96] = {0}, above[96];
  memset(r, 0x42, sizeof r);
  memcpy(p, OAKLEY_P, 96);
  memcpy(p_minus_1, OAKLEY_P, 96);
  p_minus_1[95] -= 1;
  one[95] = 1;
  /* p + 1, with the carry through p's trailing 0xff bytes. */
  memcpy(above, OAKLEY_P, 96);
  for (int i = 95; i >= 0 && ++above[i] == 0; i--) {
  }
  uint8_t top[96];
  memset(top, 0xff, sizeof top); /* 2^768 - 1, the largest 96-byte value */

  /* NULL pointers. */
  CHECK_RC(ssmail_dh_public_key(NULL, out), SSMAIL_ERR_NULL_POINTER);
  memset(out, 0xaa, sizeof out);
  CHECK_RC(ssmail_dh_public_key(r, NULL), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_dh_public_key(NULL, out), SSMAIL_ERR_NULL_POINTER);
  CHECK(all_zero(out, 96));
  CHECK_RC(ssmail_dh_shared_secret(NULL, p_minus_1, out), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_dh_shared_secret(r, NULL, out), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_dh_shared_secret(r, r, NULL), SSMAIL_ERR_NULL_POINTER);

  /* Peer keys outside [2, p-2]; the output is zeroed, not left stale. */
  const uint8_t *peers[] = {ZERO96, one, p_minus_1, p, above, top};
  for (size_t i = 0; i < 6; i++) {
    memset(out, 0xaa, sizeof out);
    CHECK_RC(ssmail_dh_shared_secret(r, peers[i], out), SSMAIL_ERR_BAD_PEER_KEY);
    CHECK(all_zero(out, 96));
  }
  /* The bounds themselves are accepted: 2 and p-2. */
  uint8_t two[96] = {0}, p_minus_2[96];
  two[95] = 2;
  memcpy(p_minus_2, OAKLEY_P, 96);
  p_minus_2[95] -= 2;
  CHECK_RC(ssmail_dh_shared_secret(r, two, out), SSMAIL_OK);
  CHECK_RC(ssmail_dh_shared_secret(r, p_minus_2, out), SSMAIL_OK);
  CHECK(!all_zero(out, 96));

  /* Private keys outside [2, p-2]. */
  const uint8_t *privs[] = {ZERO96, one, p_minus_1, p, above, top};
  for (size_t i = 0; i < 6; i++) {
    memset(out, 0xaa, sizeof out);
    CHECK_RC(ssmail_dh_public_key(privs[i], out), SSMAIL_ERR_BAD_PRIVATE_KEY);
    CHECK(all_zero(out, 96));
    CHECK_RC(ssmail_dh_shared_secret(privs[i], two, out), SSMAIL_ERR_BAD_PRIVATE_KEY);
  }
}

static void kdf_errors(void) {
  uint8_t z[96] = {1}, na[10] = {2}, nb[10] = {3}, c2s[10], s2c[10];
  const uint8_t *in[3] = {z, na, nb};
  for (int i = 0; i < 5; i++) {
    memset(c2s, 0xaa, 10);
    memset(s2c, 0xaa, 10);
    ssmail_result rc = ssmail_derive_keys(i == 0 ? NULL : in[0], i == 1 ? NULL : in[1],
                                          i == 2 ? NULL : in[2], i == 3 ? NULL : c2s,
                                          i == 4 ? NULL : s2c);
    CHECK_RC(rc, SSMAIL_ERR_NULL_POINTER);
    if (i != 3) CHECK(all_zero(c2s, 10));
    if (i != 4) CHECK(all_zero(s2c, 10));
  }
  CHECK_RC(ssmail_derive_keys(z, na, nb, c2s, s2c), SSMAIL_OK);
  CHECK(!all_zero(c2s, 10) && memcmp(c2s, s2c, 10) != 0);
}

static void mta_errors(void) {
  ssmail_keys *keys = (ssmail_keys *)&keys;
  CHECK_RC(ssmail_keys_new(0, NULL, NULL), SSMAIL_ERR_NULL_POINTER);
  /* A cache file that cannot be locked or read is an I/O error, not a crash. */
  CHECK_RC(ssmail_keys_new(0, "/nonexistent-dir/ssmail/cache", &keys), SSMAIL_ERR_IO);
  CHECK(keys == NULL);
  CHECK_RC(ssmail_keys_flush(NULL), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_keys_new(0, NULL, &keys), SSMAIL_OK);
  CHECK_RC(ssmail_keys_flush(keys), SSMAIL_OK);

  ssmail_server *s = NULL;
  ssmail_client *c = NULL;
  CHECK_RC(ssmail_server_new(NULL, &s), SSMAIL_ERR_NULL_POINTER);
  CHECK(s == NULL);
  CHECK_RC(ssmail_client_new(NULL, &c), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_server_new(keys, NULL), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_server_new(keys, &s), SSMAIL_OK);
  CHECK_RC(ssmail_client_new(keys, &c), SSMAIL_OK);
  /* The handles hold their own reference: the key source may go first. */
  ssmail_keys_free(keys);

  uint8_t out[SSMAIL_LINE_MAX];
  size_t n = 99;
  ssmail_step step;
  const uint8_t ok[] = "XCRYPT OK\r\n";
  CHECK_RC(ssmail_server_command(s, ok, sizeof ok - 1, true, out, SSMAIL_LINE_MAX - 1, &n, &step),
           SSMAIL_ERR_BUFFER_TOO_SHORT);
  CHECK(n == 0);
  CHECK_RC(ssmail_server_command(s, ok, sizeof ok - 1, true, NULL, sizeof out, &n, &step),
           SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_server_command(s, ok, sizeof ok - 1, true, out, sizeof out, NULL, &step),
           SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_server_command(s, NULL, 10, true, out, sizeof out, &n, &step),
           SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_server_command(NULL, ok, sizeof ok - 1, true, out, sizeof out, &n, &step),
           SSMAIL_ERR_NULL_POINTER);
  /* An empty line is no XCRYPT command; an out-of-turn OK gets 503. */
  CHECK_RC(ssmail_server_command(s, NULL, 0, true, out, sizeof out, &n, &step), SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_NOT_XCRYPT && n == 0);
  CHECK_RC(ssmail_server_command(s, ok, sizeof ok - 1, true, out, sizeof out, &n, &step), SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_PLAINTEXT && n > 4 && memcmp(out, "503 ", 4) == 0);
  /* A 600-octet XCRYPT line: 501, not an overflow. */
  uint8_t long_line[600];
  memset(long_line, 'A', sizeof long_line);
  memcpy(long_line, "XCRYPT t32_1.0 ", 15);
  CHECK_RC(ssmail_server_command(s, long_line, sizeof long_line, true, out, sizeof out, &n, &step),
           SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_PLAINTEXT && memcmp(out, "501 ", 4) == 0);

  ssmail_cipher *a = (ssmail_cipher *)&a, *b = (ssmail_cipher *)&b;
  CHECK_RC(ssmail_server_ciphers(s, &a, &b), SSMAIL_ERR_STATE);
  CHECK(a == NULL && b == NULL);
  CHECK_RC(ssmail_client_ciphers(c, &a, &b), SSMAIL_ERR_STATE);
  CHECK_RC(ssmail_client_ciphers(c, NULL, &b), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_client_ehlo_line(NULL, ok, 3), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_client_start(c, out, 10, &n, &step), SSMAIL_ERR_BUFFER_TOO_SHORT);
  CHECK_RC(ssmail_client_reply(c, ok, sizeof ok - 1, out, sizeof out, &n, NULL),
           SSMAIL_ERR_NULL_POINTER);
  /* No offer seen: no exchange, plaintext. */
  CHECK_RC(ssmail_client_start(c, out, sizeof out, &n, &step), SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_PLAINTEXT && n == 0);
  CHECK(strcmp(ssmail_ehlo_keyword(), "XCRYPT t32_1.0 arrsyfor_1.0") == 0);
  ssmail_server_free(s);
  ssmail_client_free(c);
  ssmail_server_free(NULL);
  ssmail_client_free(NULL);
  ssmail_keys_free(NULL);
}

static void messages(void) {
  /* Every code has its own static message; unknown numbers get one too. */
  for (unsigned a = 0; a <= SSMAIL_ERR_BAD_SAVED_STATE; a++) {
    CHECK(ssmail_result_str(a) != NULL && strlen(ssmail_result_str(a)) > 0);
    for (unsigned b = 0; b < a; b++)
      CHECK(strcmp(ssmail_result_str(a), ssmail_result_str(b)) != 0);
  }
  CHECK(strcmp(ssmail_result_str(SSMAIL_OK), "success") == 0);
  CHECK(strcmp(ssmail_result_str(0xffffffffu), "unknown ssmail_result") == 0);
}

int main(void) {
  cipher_errors();
  dh_errors();
  kdf_errors();
  mta_errors();
  messages();
  printf("errors: %d checks passed\n", checks_run);
  return 0;
}
