/* The client side of XCRYPT in C, as an MTA's SMTP client would run it with libssmail:
 * connects to the server example's UNIX socket, reads the EHLO offer, runs the
 * exchange with ssmail_client_start and ssmail_client_reply, switches its stream to the
 * two ciphers, and sends one message read from stdin (lines of at most 998 octets).
 *
 * Usage: client SOCKET_PATH [CACHE_FILE] < message */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "smtp_io.h"

/* Reads a whole reply (all its lines); returns its code, or -1. Each line goes to the
 * XCRYPT client when `x` is given (the EHLO reply, for the offer). */
static int read_reply(struct conn *c, ssmail_client *x) {
  char line[1024];
  size_t n;
  while ((n = read_line(c, line, sizeof line)) >= 4) {
    if (x) ssmail_client_ehlo_line(x, (const uint8_t *)line, n);
    if (line[3] != '-') return atoi(line);
  }
  return -1;
}

static int command(struct conn *c, const char *line, int want) {
  if (send_str(c, line) != 0) return -1;
  int code = read_reply(c, NULL);
  if (code != want) {
    fprintf(stderr, "client: %.*s got %d\n", (int)strcspn(line, "\r"), line, code);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SOCKET_PATH [CACHE_FILE] < message\n", argv[0]);
    return 2;
  }
  ssmail_keys *keys = NULL;
  ssmail_result rc = ssmail_keys_new(0, argc > 2 ? argv[2] : NULL, &keys);
  if (rc != SSMAIL_OK) {
    fprintf(stderr, "client: ssmail_keys_new: %s\n", ssmail_result_str(rc));
    return 1;
  }
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof a.sun_path) return 2;
  strcpy(a.sun_path, argv[1]);
  struct conn c = {.fd = socket(AF_UNIX, SOCK_STREAM, 0)};
  if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("client: connect");
    return 1;
  }
  ssmail_client *x = NULL;
  if ((rc = ssmail_client_new(keys, &x)) != SSMAIL_OK) return 1;

  bool encrypted = false;
  if (read_reply(&c, NULL) != 220 || send_str(&c, "EHLO client.example\r\n") != 0 ||
      read_reply(&c, x) != 250)
    return 1;

  /* The exchange: start, then one reply at a time until it ends. */
  uint8_t cmd[SSMAIL_LINE_MAX];
  size_t cmd_len;
  ssmail_step step;
  rc = ssmail_client_start(x, cmd, sizeof cmd, &cmd_len, &step);
  while (rc == SSMAIL_OK && step == SSMAIL_STEP_SEND) {
    if (cmd_len > 0 && send_bytes(&c, cmd, cmd_len) != 0) return 1;
    char line[1024];
    size_t n = read_line(&c, line, sizeof line);
    if (n == 0) return 1;
    rc = ssmail_client_reply(x, (const uint8_t *)line, n, cmd, sizeof cmd, &cmd_len, &step);
  }
  if (rc != SSMAIL_OK) {
    fprintf(stderr, "client: %s\n", ssmail_result_str(rc));
    return 1;
  }
  if (step == SSMAIL_STEP_ENCRYPT) {
    ssmail_cipher *tx = NULL, *rx = NULL;
    if ((rc = ssmail_client_ciphers(x, &tx, &rx)) != SSMAIL_OK) return 1;
    switch_on(&c, rx, tx);
    encrypted = true;
  }
  ssmail_client_free(x);

  /* The mail itself, now under the ciphers. */
  if (command(&c, "MAIL FROM:<sender@client.example>\r\n", 250) ||
      command(&c, "RCPT TO:<rcpt@server.example>\r\n", 250) || command(&c, "DATA\r\n", 354))
    return 1;
  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '.') send_str(&c, "."); /* dot-stuffing */
    send_str(&c, line);
    send_str(&c, "\r\n");
  }
  if (command(&c, ".\r\n", 250) || command(&c, "QUIT\r\n", 221)) return 1;
  fprintf(stderr, "client: message sent, %s\n", encrypted ? "XCRYPT on" : "plaintext");
  close_conn(&c);
  ssmail_keys_free(keys);
  return encrypted ? 0 : 1;
}
