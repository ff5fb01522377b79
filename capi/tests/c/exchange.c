/* What an MTA's log line and version list need from libssmail, through the C API:
 * ssmail_server_last_exchange / ssmail_client_last_exchange report the version and
 * whether the shared secret was a key cache hit (first meeting: a miss on each side;
 * again: a hit on each; through a cache file another key source wrote: a hit), and
 * ssmail_server_new_versions restricts the versions in the spec's order of checks
 * (504 for an unoffered version, but 501 first for a malformed key or nonce). Also the
 * error paths of the three calls. Usage: exchange CACHE_FILE (a path that may be
 * created; its directory must be owner-only or the file refused). */
#include "check.h"

/* Runs one exchange between a fresh client on `ck` and the server `s` (freed here),
 * with the server's EHLO offer `offer`; fills what both sides report afterwards. */
static void run_exchange(ssmail_keys *ck, ssmail_server *s, const char *offer,
                         ssmail_exchange_info *c_info, ssmail_exchange_info *s_info) {
  ssmail_client *c = NULL;
  uint8_t line[SSMAIL_LINE_MAX], back[SSMAIL_LINE_MAX];
  size_t n = 0, m = 0;
  ssmail_step step, sstep;
  CHECK_RC(ssmail_client_new(ck, &c), SSMAIL_OK);
  /* Nothing to report before an exchange. */
  c_info->version = "not cleared";
  CHECK_RC(ssmail_client_last_exchange(c, c_info), SSMAIL_ERR_STATE);
  CHECK(c_info->version == NULL && !c_info->cache_hit);
  CHECK_RC(ssmail_client_ehlo_line(c, (const uint8_t *)offer, strlen(offer)), SSMAIL_OK);
  CHECK_RC(ssmail_client_start(c, line, sizeof line, &n, &step), SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_SEND && n > 0);
  CHECK_RC(ssmail_server_command(s, line, n, true, back, sizeof back, &m, &sstep), SSMAIL_OK);
  CHECK(sstep == SSMAIL_STEP_SEND && m > 11 && memcmp(back, "250 XCRYPT ", 11) == 0);
  CHECK_RC(ssmail_client_reply(c, back, m, line, sizeof line, &n, &step), SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_SEND && n == 11 && memcmp(line, "XCRYPT OK\r\n", 11) == 0);
  CHECK_RC(ssmail_server_command(s, line, n, true, back, sizeof back, &m, &sstep), SSMAIL_OK);
  CHECK(sstep == SSMAIL_STEP_ENCRYPT);
  CHECK_RC(ssmail_client_reply(c, back, m, line, sizeof line, &n, &step), SSMAIL_OK);
  CHECK(step == SSMAIL_STEP_ENCRYPT);
  CHECK_RC(ssmail_client_last_exchange(c, c_info), SSMAIL_OK);
  CHECK_RC(ssmail_server_last_exchange(s, s_info), SSMAIL_OK);
  CHECK(c_info->version != NULL && s_info->version != NULL);
  CHECK(strcmp(c_info->version, s_info->version) == 0);
  ssmail_client_free(c);
  ssmail_server_free(s);
}

static ssmail_server *server(ssmail_keys *keys, const char *versions) {
  ssmail_server *s = NULL;
  if (versions)
    CHECK_RC(ssmail_server_new_versions(keys, versions, &s), SSMAIL_OK);
  else
    CHECK_RC(ssmail_server_new(keys, &s), SSMAIL_OK);
  CHECK(s != NULL);
  return s;
}

static const char *BOTH = "250 XCRYPT t32_1.0 arrsyfor_1.0\r\n";

static void hits_and_misses(const char *cache_path) {
  ssmail_keys *ck = NULL, *sk = NULL, *other = NULL, *f1 = NULL, *f2 = NULL;
  ssmail_exchange_info ci, si;
  CHECK_RC(ssmail_keys_new(0, NULL, &ck), SSMAIL_OK);
  CHECK_RC(ssmail_keys_new(0, NULL, &sk), SSMAIL_OK);
  CHECK_RC(ssmail_keys_new(0, NULL, &other), SSMAIL_OK);

  run_exchange(ck, server(sk, NULL), BOTH, &ci, &si);
  CHECK(strcmp(si.version, "t32_1.0") == 0);
  CHECK(!ci.cache_hit && !si.cache_hit); /* first meeting: one DH per side */
  run_exchange(ck, server(sk, NULL), BOTH, &ci, &si);
  CHECK(ci.cache_hit && si.cache_hit);
  run_exchange(other, server(sk, NULL), BOTH, &ci, &si);
  CHECK(!ci.cache_hit && !si.cache_hit); /* a new peer for the server */

  /* Two key sources on one file (two processes of one server): the second finds the
   * secret the first computed in the file. */
  CHECK_RC(ssmail_keys_new(0, cache_path, &f1), SSMAIL_OK);
  run_exchange(ck, server(f1, NULL), BOTH, &ci, &si);
  CHECK(!si.cache_hit);
  CHECK_RC(ssmail_keys_new(0, cache_path, &f2), SSMAIL_OK);
  run_exchange(ck, server(f2, NULL), BOTH, &ci, &si);
  CHECK(si.cache_hit && ci.cache_hit);

  ssmail_keys_free(ck);
  ssmail_keys_free(sk);
  ssmail_keys_free(other);
  ssmail_keys_free(f1);
  ssmail_keys_free(f2);
}

/* Gives `line` to `s` and checks the reply starts with `want`. */
static void answer(ssmail_server *s, const char *line, const char *want) {
  uint8_t back[SSMAIL_LINE_MAX];
  size_t m = 0;
  ssmail_step step;
  CHECK_RC(ssmail_server_command(s, (const uint8_t *)line, strlen(line), true, back, sizeof back,
                                 &m, &step),
           SSMAIL_OK);
  if (m < strlen(want) || memcmp(back, want, strlen(want)) != 0) {
    fprintf(stderr, "%s -> %.*s (wanted %s)\n", line, (int)m, (const char *)back, want);
    exit(1);
  }
}

static void versions(void) {
  ssmail_keys *ck = NULL, *sk = NULL;
  ssmail_server *s = (ssmail_server *)&s;
  ssmail_exchange_info ci, si;
  CHECK_RC(ssmail_keys_new(0, NULL, &ck), SSMAIL_OK);
  CHECK_RC(ssmail_keys_new(0, NULL, &sk), SSMAIL_OK);

  const char *bad[] = {"", " ,\t", "t32_1.0 t32_2.0", "rc4", "t32_1.0x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s = (ssmail_server *)&s;
    CHECK_RC(ssmail_server_new_versions(sk, bad[i], &s), SSMAIL_ERR_BAD_VERSION);
    CHECK(s == NULL);
  }
  s = (ssmail_server *)&s;
  CHECK_RC(ssmail_server_new_versions(sk, NULL, &s), SSMAIL_ERR_NULL_POINTER);
  CHECK(s == NULL);
  CHECK_RC(ssmail_server_new_versions(NULL, "t32_1.0", &s), SSMAIL_ERR_NULL_POINTER);
  CHECK_RC(ssmail_server_new_versions(sk, "t32_1.0", NULL), SSMAIL_ERR_NULL_POINTER);

  /* The server's first choice is what the client takes. */
  run_exchange(ck, server(sk, "arrsyfor_1.0, T32_1.0"), "250 XCRYPT arrsyfor_1.0 t32_1.0\r\n",
               &ci, &si);
  CHECK(strcmp(si.version, "arrsyfor_1.0") == 0 && strcmp(ci.version, "arrsyfor_1.0") == 0);

  /* A t32-only server. Key 5 and a 20-digit nonce are well-formed. */
  static char key[193], start[400];
  memset(key, '0', 192);
  key[191] = '5';
  key[192] = 0;
  ssmail_server *t32 = server(sk, "t32_1.0");
  snprintf(start, sizeof start, "XCRYPT arrsyfor_1.0 %s 00112233445566778899\r\n", key);
  answer(t32, start, "504 ");
  snprintf(start, sizeof start, "XCRYPT arrsyfor_1.0 %s 0011\r\n", key);
  answer(t32, start, "501 "); /* the nonce is checked before the version */
  answer(t32, "XCRYPT arrsyfor_1.0 00 00112233445566778899\r\n", "501 ");
  snprintf(start, sizeof start, "XCRYPT t32_1.0 %s 00112233445566778899\r\n", key);
  answer(t32, start, "250 XCRYPT ");
  ssmail_server_free(t32);

  /* The report's own error paths. */
  ssmail_exchange_info info = {"x", true};
  CHECK_RC(ssmail_server_last_exchange(NULL, &info), SSMAIL_ERR_NULL_POINTER);
  CHECK(info.version == NULL && !info.cache_hit);
  info.version = "x";
  CHECK_RC(ssmail_client_last_exchange(NULL, &info), SSMAIL_ERR_NULL_POINTER);
  CHECK(info.version == NULL);
  s = server(sk, NULL);
  CHECK_RC(ssmail_server_last_exchange(s, NULL), SSMAIL_ERR_NULL_POINTER);
  ssmail_server_free(s);
  ssmail_keys_free(ck);
  ssmail_keys_free(sk);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CACHE_FILE\n", argv[0]);
    return 2;
  }
  remove(argv[1]);
  hits_and_misses(argv[1]);
  versions();
  printf("exchange: %d checks passed\n", checks_run);
  return 0;
}
