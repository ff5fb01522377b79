/* ssmail_keys_flush once per session (as Postfix calls it) without file work when
 * nothing is only in memory, and without losing what is:
 *   1. after a flush, a flush with no exchange in between leaves the file alone (a
 *      corrupt file put there stays byte for byte; a flush that wrote would replace it);
 *   2. the next exchange notices the changed file and puts the pair back (a fresh key
 *      source then finds the same server key and the secret: a cache hit);
 *   3. an exchange while the file is refused (mode 0644) computes in memory; the flush
 *      reports the failure, and once the file is acceptable again a flush writes what
 *      only memory had (a fresh key source finds that peer's secret: a hit).
 * Usage: flush CACHE_FILE (a path that may be created, in an owner-only directory). */
#include <sys/stat.h>

#include "check.h"

/* One exchange between a fresh client on `ck` and a fresh server on `sk`; returns
 * whether the server's secret was a cache hit, and copies the server's public key (the
 * 192 hex digits of its reply) to `kb`. */
static bool exchange(ssmail_keys *ck, ssmail_keys *sk, char kb[193]) {
  static const char *offer = "250 XCRYPT t32_1.0\r\n";
  ssmail_client *c = NULL;
  ssmail_server *s = NULL;
  uint8_t line[SSMAIL_LINE_MAX], back[SSMAIL_LINE_MAX];
  size_t n = 0, m = 0;
  ssmail_step step, sstep;
  ssmail_exchange_info info;
  CHECK_RC(ssmail_client_new(ck, &c), SSMAIL_OK);
  CHECK_RC(ssmail_server_new(sk, &s), SSMAIL_OK);
  CHECK_RC(ssmail_client_ehlo_line(c, (const uint8_t *)offer, strlen(offer)), SSMAIL_OK);
  CHECK_RC(ssmail_client_start(c, line, sizeof line, &n, &step), SSMAIL_OK);
  CHECK_RC(ssmail_server_command(s, line, n, true, back, sizeof back, &m, &sstep), SSMAIL_OK);
  CHECK(sstep == SSMAIL_STEP_SEND && m > 11 + 192 && memcmp(back, "250 XCRYPT ", 11) == 0);
  memcpy(kb, back + 11, 192);
  kb[192] = '\0';
  CHECK_RC(ssmail_client_reply(c, back, m, line, sizeof line, &n, &step), SSMAIL_OK);
  CHECK_RC(ssmail_server_command(s, line, n, true, back, sizeof back, &m, &sstep), SSMAIL_OK);
  CHECK(sstep == SSMAIL_STEP_ENCRYPT);
  CHECK_RC(ssmail_server_last_exchange(s, &info), SSMAIL_OK);
  ssmail_client_free(c);
  ssmail_server_free(s);
  return info.cache_hit;
}

/* The file's bytes (at most `cap`) into `buf`; returns how many. */
static size_t slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* Replaces the file's contents with `text` in place (same inode, mode kept). */
static void overwrite(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CACHE_FILE\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  static const char junk[] = "not a key cache";
  ssmail_keys *ck = NULL, *late = NULL, *sk = NULL, *fresh = NULL;
  char k1[193], k2[193], k3[193], got[64];
  remove(path);
  CHECK_RC(ssmail_keys_new(0, NULL, &ck), SSMAIL_OK);
  CHECK_RC(ssmail_keys_new(0, NULL, &late), SSMAIL_OK);
  CHECK_RC(ssmail_keys_new(0, path, &sk), SSMAIL_OK);

  /* 1. A miss (written when computed), a flush, then a flush with nothing new. */
  CHECK(!exchange(ck, sk, k1));
  CHECK_RC(ssmail_keys_flush(sk), SSMAIL_OK);
  CHECK(exchange(ck, sk, k2)); /* a hit in memory */
  CHECK(strcmp(k1, k2) == 0);
  overwrite(path, junk);
  CHECK_RC(ssmail_keys_flush(sk), SSMAIL_OK);
  CHECK(slurp(path, got, sizeof got) == strlen(junk) && memcmp(got, junk, strlen(junk)) == 0);

  /* 2. The next exchange sees the file changed and writes the pair back. */
  CHECK(exchange(ck, sk, k2));
  CHECK(strcmp(k1, k2) == 0);
  CHECK_RC(ssmail_keys_new(0, path, &fresh), SSMAIL_OK);
  CHECK(exchange(ck, fresh, k3)); /* the pair and ck's secret, from the file */
  CHECK(strcmp(k1, k3) == 0);
  ssmail_keys_free(fresh);

  /* 3. A refused file: the exchange goes on from memory, the flush says so; once the
   * file is acceptable again, the flush writes the secret only memory had. */
  CHECK(chmod(path, 0644) == 0);
  CHECK(!exchange(late, sk, k2));
  CHECK(strcmp(k1, k2) == 0);
  CHECK_RC(ssmail_keys_flush(sk), SSMAIL_ERR_IO);
  CHECK(chmod(path, 0600) == 0);
  CHECK_RC(ssmail_keys_flush(sk), SSMAIL_OK);
  CHECK_RC(ssmail_keys_new(0, path, &fresh), SSMAIL_OK);
  CHECK(exchange(late, fresh, k3));
  CHECK(strcmp(k1, k3) == 0);
  CHECK_RC(ssmail_keys_flush(fresh), SSMAIL_OK);

  ssmail_keys_free(fresh);
  ssmail_keys_free(sk);
  ssmail_keys_free(late);
  ssmail_keys_free(ck);
  printf("flush: %d checks passed\n", checks_run);
  return 0;
}
