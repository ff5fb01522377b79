/* CPU per session of libssmail's entry points as the Postfix patch calls them (issue 16's
 * breakdown, mta/postfix/README.md "Where the cost went"): a client and a server exchange
 * in one process, warm key caches (after 20 unmeasured sessions every secret is a
 * hit, as in a busy server), then t32_1.0 over 64 KiB each way, then the per-session
 * ssmail_keys_flush of each side. CPU time of this process (CLOCK_PROCESS_CPUTIME_ID),
 * averaged over the sessions.
 *
 *   gcc -O2 -Wall -Wextra -Werror $(pkg-config --cflags ssmail) cost_entry.c \
 *       "$(pkg-config --variable=libdir ssmail)/libssmail.a" \
 *       $(pkg-config --static --libs-only-l ssmail | sed 's/-lssmail//') -o cost_entry
 *   ./cost_entry [SERVER_CACHE CLIENT_CACHE [SESSIONS]]   (no files: memory-only keys) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ssmail.h>

static double cpu_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

#define OK(call)                                                        \
  do {                                                                  \
    ssmail_result rc_ = (call);                                         \
    if (rc_ != SSMAIL_OK) {                                             \
      fprintf(stderr, "%s: %s\n", #call, ssmail_result_str(rc_));       \
      exit(1);                                                          \
    }                                                                   \
  } while (0)

int main(int argc, char **argv) {
  const char *scache = argc > 2 ? argv[1] : NULL, *ccache = argc > 2 ? argv[2] : NULL;
  int sessions = argc > 3 ? atoi(argv[3]) : 2000, warm = 20;
  static const char offer[] = "250 XCRYPT t32_1.0 arrsyfor_1.0";
  static uint8_t body[65536];
  double client = 0, server = 0, cipher = 0, sflush = 0, cflush = 0;
  ssmail_keys *ck = NULL, *sk = NULL;
  if (sessions < 1) sessions = 1;
  OK(ssmail_keys_new(0, ccache, &ck));
  OK(ssmail_keys_new(0, scache, &sk));
  for (int i = 0; i < warm + sessions; i++) {
    ssmail_client *c = NULL;
    ssmail_server *s = NULL;
    ssmail_cipher *c_send = NULL, *c_recv = NULL, *s_send = NULL, *s_recv = NULL;
    uint8_t a[SSMAIL_LINE_MAX], b[SSMAIL_LINE_MAX];
    size_t na = 0, nb = 0;
    ssmail_step cs, ss;
    double t[9];
    t[0] = cpu_us();
    OK(ssmail_client_new(ck, &c));
    OK(ssmail_client_ehlo_line(c, (const uint8_t *)offer, strlen(offer)));
    OK(ssmail_client_start(c, a, sizeof a, &na, &cs));
    t[1] = cpu_us();
    OK(ssmail_server_new_versions(sk, "t32_1.0 arrsyfor_1.0", &s));
    OK(ssmail_server_command(s, a, na, true, b, sizeof b, &nb, &ss));
    t[2] = cpu_us();
    OK(ssmail_client_reply(c, b, nb, a, sizeof a, &na, &cs));
    t[3] = cpu_us();
    OK(ssmail_server_command(s, a, na, true, b, sizeof b, &nb, &ss));
    OK(ssmail_server_ciphers(s, &s_recv, &s_send));
    ssmail_server_free(s);
    t[4] = cpu_us();
    OK(ssmail_client_reply(c, b, nb, a, sizeof a, &na, &cs));
    if (cs != SSMAIL_STEP_ENCRYPT || ss != SSMAIL_STEP_ENCRYPT) {
      fprintf(stderr, "the exchange did not end in ENCRYPT\n");
      return 1;
    }
    OK(ssmail_client_ciphers(c, &c_send, &c_recv));
    ssmail_client_free(c);
    t[5] = cpu_us();
    /* One 64 KiB message: encrypted by one side, decrypted by the other. */
    ssmail_cipher_apply(c_send, body, sizeof body);
    ssmail_cipher_apply(s_recv, body, sizeof body);
    t[6] = cpu_us();
    ssmail_cipher_free(c_send);
    ssmail_cipher_free(c_recv);
    ssmail_cipher_free(s_send);
    ssmail_cipher_free(s_recv);
    t[7] = cpu_us();
    OK(ssmail_keys_flush(sk));
    t[8] = cpu_us();
    OK(ssmail_keys_flush(ck));
    if (i < warm) continue;
    client += (t[1] - t[0]) + (t[3] - t[2]) + (t[5] - t[4]);
    server += (t[2] - t[1]) + (t[4] - t[3]);
    cipher += t[6] - t[5];
    sflush += t[8] - t[7];
    cflush += cpu_us() - t[8];
  }
  printf("CPU µs per session (mean of %d): client exchange %.1f, server exchange %.1f, "
         "t32_1.0 64 KiB encrypt + decrypt %.1f, flush server %.1f, flush client %.1f\n",
         sessions, client / sessions, server / sessions, cipher / sessions, sflush / sessions,
         cflush / sessions);
  ssmail_keys_free(ck);
  ssmail_keys_free(sk);
  return 0;
}
