/* The published vectors of vectors/data/ through libssmail's C API:
 *   arrsyfor-rfc6229.txt  RC4 keystreams of RFC 6229 section 2 (arrsyfor_1.0)
 *   t32-published.txt     the key-only SOBER-t32 keystream (t32_1.0); lines with an IV
 *                         are skipped (the API has no IV, as XCRYPT uses none)
 *   xcrypt-kat.txt        key agreements (both public keys, the shared secret both ways,
 *                         the direction keys) and raw exponentiations mod p, run as
 *                         shared secrets (base = peer key, exponent = private key)
 * Usage: vectors DIR (the vectors/data directory). Each file names its source at its top.
 * Built with -DSSMAIL_TEST_NO_ALLOC it uses only what the no_std (firmware) library has. */
#include "check.h"

static FILE *open_in(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  return f;
}

/* Finds `name=` (at the line's start or after a space) and decodes its 2n hex digits. */
static void field(const char *line, const char *name, uint8_t *out, size_t n) {
  char key[16];
  snprintf(key, sizeof key, "%s=", name);
  const char *p = NULL;
  if (strncmp(line, key, strlen(key)) == 0) {
    p = line + strlen(key);
  } else {
    char spaced[20];
    snprintf(spaced, sizeof spaced, " %s", key);
    p = strstr(line, spaced);
    CHECK(p != NULL);
    p += strlen(spaced);
  }
  CHECK(hexlen(p) == 2 * n);
  CHECK(unhex(p, out, n) == 0);
}

/* Runs a cipher over offset+len zero bytes in uneven pieces (the keystream must not
 * depend on how the calls split it) and compares the last len with want. */
static void run_keystream(ssmail_cipher *c, size_t offset, const uint8_t *want, size_t len) {
  uint8_t *buf = calloc(offset + len, 1);
  CHECK(buf != NULL);
  size_t done = 0, step = 1;
  while (done < offset + len) {
    size_t n = step < offset + len - done ? step : offset + len - done;
    ssmail_cipher_apply(c, buf + done, n);
    done += n;
    step = step * 3 + 1;
  }
  CHECK(memcmp(buf + offset, want, len) == 0);
  free(buf);
}

/* The keystream from offset 0, compared at `offset`: with the cipher in caller memory
 * (the only constructor of the no-allocator build) and, unless built for that, on the
 * heap too. */
static void check_keystream(const char *version, const uint8_t *key, size_t key_len,
                            size_t offset, const uint8_t *want, size_t len) {
  static uint8_t storage[SSMAIL_CIPHER_SIZE + 7];
  ssmail_cipher *c = NULL;
  /* Deliberately misaligned storage: the library aligns within it. */
  CHECK_RC(ssmail_cipher_init(storage + 3, SSMAIL_CIPHER_SIZE, version, key, key_len, &c),
           SSMAIL_OK);
  CHECK(c != NULL);
  run_keystream(c, offset, want, len);
  ssmail_cipher_wipe(c);
#ifndef SSMAIL_TEST_NO_ALLOC
  c = NULL;
  CHECK_RC(ssmail_cipher_new(version, key, key_len, &c), SSMAIL_OK);
  CHECK(c != NULL);
  run_keystream(c, offset, want, len);
  ssmail_cipher_free(c);
  /* Saved part way (at an odd byte, inside a word) and restored, the cipher carries on
   * to the published bytes, as a connection handed between processes would. */
  uint8_t saved[SSMAIL_CIPHER_SAVED_MAX];
  size_t saved_len = 0;
  size_t at = offset == 0 ? 0 : offset / 2 + 1;
  uint8_t *skip = calloc(at + 1, 1);
  CHECK(skip != NULL);
  CHECK_RC(ssmail_cipher_new(version, key, key_len, &c), SSMAIL_OK);
  ssmail_cipher_apply(c, skip, at);
  CHECK_RC(ssmail_cipher_save(c, saved, sizeof saved, &saved_len), SSMAIL_OK);
  ssmail_cipher_free(c);
  c = NULL;
  CHECK_RC(ssmail_cipher_restore(saved, saved_len, &c), SSMAIL_OK);
  CHECK(c != NULL);
  run_keystream(c, offset - at, want, len);
  ssmail_cipher_free(c);
  free(skip);
#endif
}

static int arrsyfor(const char *dir) {
  FILE *f = open_in(dir, "arrsyfor-rfc6229.txt");
  char line[8192];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    uint8_t key[256], ks[16];
    size_t klen = hexlen(line) / 2;
    CHECK(klen >= 1 && klen <= 256);
    CHECK(unhex(line, key, klen) == 0);
    char *p = line + 2 * klen + 1;
    char *end;
    unsigned long off = strtoul(p, &end, 10);
    CHECK(end != p && *end == ' ');
    CHECK(hexlen(end + 1) == 32);
    CHECK(unhex(end + 1, ks, 16) == 0);
    check_keystream("arrsyfor_1.0", key, klen, off, ks, 16);
    n++;
  }
  fclose(f);
  return n;
}

static int t32(const char *dir) {
  FILE *f = open_in(dir, "t32-published.txt");
  char line[8192];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "stream ", 7) != 0) continue;
    const char *p = line + 7;
    uint8_t key[32], ks[2048];
    size_t klen = hexlen(p) / 2;
    CHECK(klen >= 1 && klen <= 32);
    CHECK(unhex(p, key, klen) == 0);
    p += 2 * klen + 1;
    if (strncmp(p, "- ", 2) != 0) continue; /* an IV: not XCRYPT's mode */
    p += 2;
    size_t len = hexlen(p) / 2;
    CHECK(len >= 1 && len <= sizeof ks);
    CHECK(unhex(p, ks, len) == 0);
    check_keystream("t32_1.0", key, klen, 0, ks, len);
    n++;
  }
  fclose(f);
  return n;
}

static int xcrypt(const char *dir, int *modexps) {
  FILE *f = open_in(dir, "xcrypt-kat.txt");
  static char line[1 << 16];
  int n = 0;
  *modexps = 0;
  while (fgets(line, sizeof line, f)) {
    uint8_t out[96], c2s[10], s2c[10];
    if (strncmp(line, "ra=", 3) == 0) {
      uint8_t ra[96], rb[96], ka[96], kb[96], z[96], na[10], nb[10], wc2s[10], ws2c[10];
      field(line, "ra", ra, 96);
      field(line, "rb", rb, 96);
      field(line, "ka", ka, 96);
      field(line, "kb", kb, 96);
      field(line, "z", z, 96);
      field(line, "na", na, 10);
      field(line, "nb", nb, 10);
      field(line, "c2s", wc2s, 10);
      field(line, "s2c", ws2c, 10);
      CHECK_RC(ssmail_dh_public_key(ra, out), SSMAIL_OK);
      CHECK(memcmp(out, ka, 96) == 0);
      CHECK_RC(ssmail_dh_public_key(rb, out), SSMAIL_OK);
      CHECK(memcmp(out, kb, 96) == 0);
      CHECK_RC(ssmail_dh_shared_secret(ra, kb, out), SSMAIL_OK);
      CHECK(memcmp(out, z, 96) == 0);
      CHECK_RC(ssmail_dh_shared_secret(rb, ka, out), SSMAIL_OK);
      CHECK(memcmp(out, z, 96) == 0);
      CHECK_RC(ssmail_derive_keys(z, na, nb, c2s, s2c), SSMAIL_OK);
      CHECK(memcmp(c2s, wc2s, 10) == 0 && memcmp(s2c, ws2c, 10) == 0);
      /* In place: the secret buffer also receives the shared secret. */
      memcpy(out, ra, 96);
      CHECK_RC(ssmail_dh_shared_secret(out, kb, out), SSMAIL_OK);
      CHECK(memcmp(out, z, 96) == 0);
      n++;
    } else if (strncmp(line, "modexp ", 7) == 0) {
      uint8_t base[96], exp[96], result[96];
      field(line, "base", base, 96);
      field(line, "exp", exp, 96);
      field(line, "result", result, 96);
      /* Only exponents and bases in [2, p-2] are keys; the others must be refused. */
      uint8_t two[96] = {0}, pm2[96];
      two[95] = 2;
      memcpy(pm2, OAKLEY_P, 96);
      pm2[95] -= 2;
      int base_ok = memcmp(base, two, 96) >= 0 && memcmp(base, pm2, 96) <= 0;
      int exp_ok = memcmp(exp, two, 96) >= 0 && memcmp(exp, pm2, 96) <= 0;
      ssmail_result want = !base_ok ? SSMAIL_ERR_BAD_PEER_KEY
                           : !exp_ok ? SSMAIL_ERR_BAD_PRIVATE_KEY
                                     : SSMAIL_OK;
      CHECK_RC(ssmail_dh_shared_secret(exp, base, out), want);
      if (want == SSMAIL_OK) {
        CHECK(memcmp(out, result, 96) == 0);
        (*modexps)++;
      }
    }
  }
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
    return 2;
  }
  int a = arrsyfor(argv[1]);
  int t = t32(argv[1]);
  int modexps = 0;
  int x = xcrypt(argv[1], &modexps);
  printf("vectors: %d arrsyfor, %d t32, %d key agreements, %d modexps; %d checks passed\n",
         a, t, x, modexps, checks_run);
  /* An empty or unparsed file must fail, not pass silently. */
  CHECK(a >= 36 && t >= 1 && x >= 10 && modexps >= 1);
  return 0;
}
