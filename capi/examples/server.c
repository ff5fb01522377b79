/* The server side of XCRYPT in C, as an MTA's SMTP server would run it with libssmail:
 * a tiny SMTP server on a UNIX socket that offers XCRYPT in its EHLO reply, answers the
 * exchange with ssmail_server_command, switches its stream to the two ciphers, and
 * receives one message, which it prints to stdout.
 *
 * Usage: server SOCKET_PATH [CACHE_FILE]   (one session, then exit) */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "smtp_io.h"

static int listen_on(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return -1;
  strcpy(a.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0) return -1;
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SOCKET_PATH [CACHE_FILE]\n", argv[0]);
    return 2;
  }
  /* One key source per server (per process of a multi-process MTA, all on one file). */
  ssmail_keys *keys = NULL;
  ssmail_result rc = ssmail_keys_new(0, argc > 2 ? argv[2] : NULL, &keys);
  if (rc != SSMAIL_OK) {
    fprintf(stderr, "server: ssmail_keys_new: %s\n", ssmail_result_str(rc));
    return 1;
  }
  int lfd = listen_on(argv[1]);
  if (lfd < 0) {
    perror("server: listen");
    return 1;
  }
  struct conn c = {.fd = accept(lfd, NULL, NULL)};
  close(lfd);
  if (c.fd < 0) {
    perror("server: accept");
    return 1;
  }
  /* One exchange handle per SMTP session. */
  ssmail_server *x = NULL;
  if ((rc = ssmail_server_new(keys, &x)) != SSMAIL_OK) {
    fprintf(stderr, "server: ssmail_server_new: %s\n", ssmail_result_str(rc));
    return 1;
  }

  bool ehlo_done = false, in_transaction = false, encrypted = false;
  char line[1024], message[8192] = "";
  uint8_t reply[SSMAIL_LINE_MAX];
  size_t reply_len, n;
  int status = 1;
  send_str(&c, "220 server.example ESMTP libssmail example\r\n");
  while ((n = read_line(&c, line, sizeof line)) > 0) {
    ssmail_step step;
    /* XCRYPT may start after EHLO, outside a transaction, with nothing pipelined behind. */
    bool allowed = ehlo_done && !in_transaction && c.len == 0;
    rc = ssmail_server_command(x, (const uint8_t *)line, n, allowed, reply, sizeof reply,
                               &reply_len, &step);
    if (rc != SSMAIL_OK) {
      fprintf(stderr, "server: ssmail_server_command: %s\n", ssmail_result_str(rc));
      break;
    }
    if (step != SSMAIL_STEP_NOT_XCRYPT) {
      send_bytes(&c, reply, reply_len); /* plaintext: the switch comes after it */
      if (step == SSMAIL_STEP_ENCRYPT) {
        ssmail_cipher *rx = NULL, *tx = NULL;
        if ((rc = ssmail_server_ciphers(x, &rx, &tx)) != SSMAIL_OK) {
          fprintf(stderr, "server: ssmail_server_ciphers: %s\n", ssmail_result_str(rc));
          break;
        }
        switch_on(&c, rx, tx);
        encrypted = true;
      }
      continue;
    }
    /* The MTA's own command handling, unchanged but for the EHLO keyword. */
    if (strncasecmp(line, "EHLO", 4) == 0) {
      ehlo_done = true;
      in_transaction = false;
      send_str(&c, "250-server.example\r\n");
      if (!encrypted) { /* §4.6: no offer once encryption is on */
        send_str(&c, "250-8BITMIME\r\n250 ");
        send_str(&c, ssmail_ehlo_keyword());
        send_str(&c, "\r\n");
      } else {
        send_str(&c, "250 8BITMIME\r\n");
      }
    } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
      in_transaction = true;
      send_str(&c, "250 2.1.0 Ok\r\n");
    } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
      send_str(&c, "250 2.1.5 Ok\r\n");
    } else if (strncasecmp(line, "DATA", 4) == 0) {
      send_str(&c, "354 End data with <CR><LF>.<CR><LF>\r\n");
      while ((n = read_line(&c, line, sizeof line)) > 0 && strcmp(line, ".\r\n") != 0) {
        const char *l = line[0] == '.' ? line + 1 : line; /* dot-unstuffing */
        if (strlen(message) + strlen(l) < sizeof message) strcat(message, l);
      }
      in_transaction = false;
      send_str(&c, "250 2.0.0 Ok: queued\r\n");
    } else if (strncasecmp(line, "QUIT", 4) == 0) {
      send_str(&c, "221 2.0.0 Bye\r\n");
      status = 0;
      break;
    } else {
      send_str(&c, "500 5.5.2 command not recognized\r\n");
    }
  }
  fprintf(stderr, "server: session %s, %s\n", status == 0 ? "complete" : "broken",
          encrypted ? "XCRYPT on" : "plaintext");
  fputs(message, stdout);
  ssmail_server_free(x);
  close_conn(&c);
  if ((rc = ssmail_keys_flush(keys)) != SSMAIL_OK)
    fprintf(stderr, "server: cache file: %s\n", ssmail_result_str(rc));
  ssmail_keys_free(keys);
  unlink(argv[1]);
  return status != 0 || !encrypted;
}
