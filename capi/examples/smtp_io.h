/* Line I/O for the two libssmail examples: CRLF lines over a socket, through the
 * session's ciphers once XCRYPT has switched them on. Not part of libssmail: an MTA
 * has its own buffered streams and would call ssmail_cipher_apply in them. */
#ifndef SSMAIL_EXAMPLE_SMTP_IO_H
#define SSMAIL_EXAMPLE_SMTP_IO_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ssmail.h>

struct conn {
  int fd;
  unsigned char buf[4096]; /* received, already decrypted, not yet consumed */
  size_t len;
  ssmail_cipher *rx; /* decrypts what arrives, once encryption is on */
  ssmail_cipher *tx; /* encrypts what leaves */
};

/* Reads one line (up to and including LF) into out; returns its length, 0 at EOF or on
 * error. Lines longer than cap-1 are cut (the examples never send such). */
static size_t read_line(struct conn *c, char *out, size_t cap) {
  for (;;) {
    unsigned char *lf = memchr(c->buf, '\n', c->len);
    if (lf || c->len == sizeof c->buf) {
      size_t n = lf ? (size_t)(lf - c->buf) + 1 : c->len;
      size_t k = n < cap - 1 ? n : cap - 1;
      memcpy(out, c->buf, k);
      out[k] = '\0';
      memmove(c->buf, c->buf + n, c->len - n);
      c->len -= n;
      return k;
    }
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    /* Bytes arriving after the switch point are ciphertext: decrypt them as they come. */
    ssmail_cipher_apply(c->rx, c->buf + c->len, (size_t)r);
    c->len += (size_t)r;
  }
}

/* XCRYPT's switch point: bytes already received behind the line that switched are
 * thrown away unread (docs/xcrypt.md §4.2): they could be injected plaintext. */
static void switch_on(struct conn *c, ssmail_cipher *rx, ssmail_cipher *tx) {
  c->len = 0;
  c->rx = rx;
  c->tx = tx;
}

/* Sends len bytes, through the cipher if encryption is on. Returns 0 or -1. */
static int send_bytes(struct conn *c, const void *data, size_t len) {
  unsigned char tmp[1024];
  const unsigned char *p = data;
  while (len > 0) {
    size_t n = len < sizeof tmp ? len : sizeof tmp;
    memcpy(tmp, p, n);
    ssmail_cipher_apply(c->tx, tmp, n);
    for (size_t off = 0; off < n;) {
      ssize_t w = write(c->fd, tmp + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return -1;
      off += (size_t)w;
    }
    p += n;
    len -= n;
  }
  return 0;
}

static int send_str(struct conn *c, const char *s) { return send_bytes(c, s, strlen(s)); }

static void close_conn(struct conn *c) {
  ssmail_cipher_free(c->rx);
  ssmail_cipher_free(c->tx);
  c->rx = c->tx = NULL;
  close(c->fd);
}

#endif
