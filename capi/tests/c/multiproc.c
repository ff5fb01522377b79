/* Many processes sharing one cache file through libssmail, as the processes of a
 * multi-process MTA would (issue 15): NPROC processes at a time each run ROUNDS
 * server-side exchanges, each round in a fresh key source on CACHE (a new smtpd
 * process, say), against an in-memory client, and log the server public key each
 * exchange used. Meanwhile the parent SIGKILLs KILLS random processes, a few
 * milliseconds apart, and starts a new one in each one's place. A kill that lands inside
 * a write leaves the writer's temporary file behind: their count is printed, as the
 * evidence that some kills did land mid-update.
 *
 * Checks: every process that was not killed completed all its exchanges; afterwards a
 * fresh key source takes over a pair from the file that was in use (so the file is not
 * torn or corrupt and the pair not lost); the file is owner-only. It prints how many
 * distinct pairs were used; with --one-pair it also requires exactly one (what
 * CacheFile::own_key_pair, load-or-create under the file's lock, guarantees within a
 * lifetime: docs/xcrypt.md §5.7).
 *
 * Usage: multiproc CACHE NPROC ROUNDS KILLS [--one-pair] */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ssmail.h>

/* One exchange between a client (memory keys) and a server on `skeys`; writes the
 * server's 192 hex digits of public key to kb. Returns 0 on success. */
static int exchange(ssmail_keys *ckeys, ssmail_keys *skeys, char kb[193]) {
  ssmail_client *c = NULL;
  ssmail_server *s = NULL;
  uint8_t a[SSMAIL_LINE_MAX], b[SSMAIL_LINE_MAX];
  size_t na, nb;
  ssmail_step step;
  int ok = -1;
  const char *offer = "250 XCRYPT t32_1.0 arrsyfor_1.0\r\n";
  if (ssmail_client_new(ckeys, &c) || ssmail_server_new(skeys, &s)) goto out;
  ssmail_client_ehlo_line(c, (const uint8_t *)offer, strlen(offer));
  if (ssmail_client_start(c, a, sizeof a, &na, &step) || step != SSMAIL_STEP_SEND) goto out;
  if (ssmail_server_command(s, a, na, true, b, sizeof b, &nb, &step) || step != SSMAIL_STEP_SEND)
    goto out;
  if (nb < 11 + 192) goto out;
  memcpy(kb, b + 11, 192);
  kb[192] = '\0';
  if (ssmail_client_reply(c, b, nb, a, sizeof a, &na, &step) || step != SSMAIL_STEP_SEND) goto out;
  if (ssmail_server_command(s, a, na, true, b, sizeof b, &nb, &step) ||
      step != SSMAIL_STEP_ENCRYPT)
    goto out;
  if (ssmail_client_reply(c, b, nb, a, sizeof a, &na, &step) || step != SSMAIL_STEP_ENCRYPT)
    goto out;
  ok = 0;
out:
  ssmail_client_free(c);
  ssmail_server_free(s);
  return ok;
}

static int child(const char *cache, int rounds, int logfd) {
  ssmail_keys *ckeys = NULL;
  if (ssmail_keys_new(0, NULL, &ckeys)) return 1;
  for (int i = 0; i < rounds; i++) {
    ssmail_keys *skeys = NULL;
    char kb[193], line[200];
    if (ssmail_keys_new(0, cache, &skeys) != SSMAIL_OK) return 1;
    if (exchange(ckeys, skeys, kb) != 0) return 1;
    if (ssmail_keys_flush(skeys) != SSMAIL_OK) return 1;
    ssmail_keys_free(skeys);
    int n = snprintf(line, sizeof line, "%s\n", kb);
    if (write(logfd, line, (size_t)n) != n) return 1; /* O_APPEND, < PIPE_BUF: whole */
  }
  ssmail_keys_free(ckeys);
  return 0;
}

static pid_t spawn(const char *cache, int rounds, int logfd) {
  pid_t p = fork();
  if (p == 0) _exit(child(cache, rounds, logfd));
  return p;
}

/* Counts what a wait status says: finished, killed by us, or failed. */
static void tally(int st, int *finished, int *killed, int *failed) {
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) (*finished)++;
  else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) (*killed)++;
  else (*failed)++;
}

/* Temporary files left in the cache's directory by writers killed mid-write. */
static int leftovers(const char *cache) {
  char dir[4096], base[4096], prefix[4200];
  snprintf(dir, sizeof dir, "%s", cache);
  snprintf(base, sizeof base, "%s", cache);
  snprintf(prefix, sizeof prefix, "%s.tmp", basename(base));
  DIR *d = opendir(dirname(dir));
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s CACHE NPROC ROUNDS KILLS [--one-pair]\n", argv[0]);
    return 2;
  }
  const char *cache = argv[1];
  int nproc = atoi(argv[2]), rounds = atoi(argv[3]), kills = atoi(argv[4]);
  bool one_pair = argc > 5 && strcmp(argv[5], "--one-pair") == 0;
  char logpath[4096];
  snprintf(logpath, sizeof logpath, "%s.used", cache);
  int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (logfd < 0 || nproc < 1 || nproc > 1000 || rounds < 1 || kills < 0) return 2;

  pid_t *pids = calloc((size_t)nproc, sizeof *pids);
  if (!pids) return 2;
  for (int i = 0; i < nproc; i++)
    if ((pids[i] = spawn(cache, rounds, logfd)) < 0) return 2;
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  int finished = 0, killed = 0, failed = 0, st;
  for (int k = 0; k < kills; k++) {
    usleep((useconds_t)(rand() % 4000));
    int i = rand() % nproc;
    kill(pids[i], SIGKILL);
    if (waitpid(pids[i], &st, 0) < 0) return 2;
    tally(st, &finished, &killed, &failed);
    if ((pids[i] = spawn(cache, rounds, logfd)) < 0) return 2;
  }
  for (int i = 0; i < nproc; i++) {
    if (waitpid(pids[i], &st, 0) < 0) return 2;
    tally(st, &finished, &killed, &failed);
  }
  close(logfd);

  /* The pairs used, and the one a fresh key source takes over from the file. */
  FILE *f = fopen(logpath, "r");
  if (!f) return 2;
  static char seen[64][193];
  int distinct = 0, exchanges = 0;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    exchanges++;
    int j = 0;
    while (j < distinct && strcmp(seen[j], line) != 0) j++;
    if (j == distinct && distinct < 64) strcpy(seen[distinct++], line);
  }
  fclose(f);
  ssmail_keys *after = NULL, *ck = NULL;
  char kb[193] = "";
  int adopted = 0;
  if (ssmail_keys_new(0, cache, &after) == SSMAIL_OK && ssmail_keys_new(0, NULL, &ck) == SSMAIL_OK &&
      exchange(ck, after, kb) == 0)
    for (int j = 0; j < distinct; j++) adopted |= strcmp(seen[j], kb) == 0;
  ssmail_keys_free(after);
  ssmail_keys_free(ck);
  struct stat sb;
  bool owner_only = stat(cache, &sb) == 0 && (sb.st_mode & 0777) == 0600;

  printf("multiproc: %d processes at a time, %d killed, %d finished, %d failed; %d exchanges, "
         "%d distinct key pair(s) used; %d writes cut by a kill (temporary files left); "
         "file %s, pair %s\n",
         nproc, killed, finished, failed, exchanges, distinct, leftovers(cache),
         owner_only ? "owner-only" : "NOT owner-only",
         adopted ? "taken over by a new process" : "LOST or corrupt");
  if (failed || !adopted || !owner_only || finished + killed != nproc + kills) return 1;
  if (one_pair && distinct != 1) {
    fprintf(stderr, "multiproc: %d pairs used in one lifetime, expected 1\n", distinct);
    return 1;
  }
  return 0;
}
