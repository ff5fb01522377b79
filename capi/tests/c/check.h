/* Helpers shared by libssmail's C tests: a failing check prints where and exits 1. */
#ifndef SSMAIL_TEST_CHECK_H
#define SSMAIL_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ssmail.h>

static int checks_run;

#define CHECK(cond)                                                            \
  do {                                                                         \
    checks_run++;                                                              \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* Checks that an ssmail call returned `want`, naming both codes if not. */
#define CHECK_RC(call, want)                                                   \
  do {                                                                         \
    ssmail_result rc_ = (call);                                                \
    checks_run++;                                                              \
    if (rc_ != (want)) {                                                       \
      fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u (%s)\n",        \
              __FILE__, __LINE__, #call, (unsigned)rc_, ssmail_result_str(rc_), \
              (unsigned)(want), ssmail_result_str(want));                      \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* The 768-bit Oakley group 1 prime, RFC 2409 section 6.1, big-endian. */
static const uint8_t OAKLEY_P[96] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2,
    0x21, 0x68, 0xC2, 0x34, 0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1,
    0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74, 0x02, 0x0B, 0xBE, 0xA6,
    0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D,
    0xF2, 0x5F, 0x14, 0x37, 0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45,
    0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6, 0xF4, 0x4C, 0x42, 0xE9,
    0xA6, 0x3A, 0x36, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

/* Decodes `n` bytes of hex from `hex` (which must hold exactly 2n digits before a
 * space, NUL or newline). Returns 0 on success, -1 on a bad digit or length. */
static inline int unhex(const char *hex, uint8_t *out, size_t n) {
  for (size_t i = 0; i < 2 * n; i++) {
    char c = hex[i];
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return -1;
    if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
    else out[i / 2] |= (uint8_t)v;
  }
  char end = hex[2 * n];
  return (end == '\0' || end == ' ' || end == '\n' || end == '\r') ? 0 : -1;
}

/* Number of hex digits at `hex` before the field ends. */
static inline size_t hexlen(const char *hex) {
  size_t n = 0;
  while (hex[n] && hex[n] != ' ' && hex[n] != '\n' && hex[n] != '\r') n++;
  return n;
}

#endif
