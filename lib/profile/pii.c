/*
 * pii.c - personal data at rest (tessera/profile.h tsr_pii_*): libsodium
 * crypto_secretbox_easy (XSalsa20-Poly1305) with a random nonce per value,
 * base64 (URL-safe, no padding) text "v1:KEYID:..." so that a store column
 * holds it as text. Rotation: docs/profiles.md "Personal data".
 */
#include "internal.h"
#include "tessera/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static int hexval(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* 64 hex digits (surrounding blanks ignored) into key; 0 or -1. */
static int parse_hex_key(const char *s, size_t n, unsigned char *key) {
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) n--;
  while (n && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  if (n != 2 * TSR_PII_KEY_BYTES) return -1;
  for (size_t i = 0; i < TSR_PII_KEY_BYTES; i++) {
    int a = hexval((unsigned char)s[2 * i]), b = hexval((unsigned char)s[2 * i + 1]);
    if (a < 0 || b < 0) return -1;
    key[i] = (unsigned char)(a * 16 + b);
  }
  return 0;
}

tsr_status tsr_pii_key_load(const char *key_file, unsigned char key[TSR_PII_KEY_BYTES],
                            tsr_error *err) {
  const char *path = getenv("TSR_PII_KEY_FILE");
  if (!path || !*path) path = NULL;
  const char *hex = getenv("TSR_PII_KEY");
  if (!path && hex && *hex) {
    if (parse_hex_key(hex, strlen(hex), key))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "TSR_PII_KEY",
                           "expected 64 hexadecimal digits (the key is not shown)");
    return TSR_OK;
  }
  if (!path) path = key_file;
  if (!path)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL,
                         "no personal-data key: set TSR_PII_KEY_FILE or TSR_PII_KEY");
  FILE *f = fopen(path, "rb");
  if (!f) return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot read key file: %s", strerror(errno));
  unsigned char buf[200];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  if (n == TSR_PII_KEY_BYTES) {
    memcpy(key, buf, TSR_PII_KEY_BYTES);
    sodium_memzero(buf, sizeof buf);
    return TSR_OK;
  }
  int bad = parse_hex_key((const char *)buf, n, key);
  sodium_memzero(buf, sizeof buf);
  if (bad)
    return tsr_error_set(err, TSR_EINVAL, path, 0, 0, NULL,
                         "expected 32 raw bytes or 64 hexadecimal digits in the key file");
  return TSR_OK;
}

void tsr_pii_key_id(const unsigned char key[TSR_PII_KEY_BYTES], char out[9]) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, key, TSR_PII_KEY_BYTES, (const unsigned char *)"tessera-pii", 11);
  snprintf(out, 9, "%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
}

static int sodium_ready(void) { return sodium_init() >= 0; }

tsr_status tsr_pii_seal(const unsigned char key[TSR_PII_KEY_BYTES], const char *plain, size_t len,
                        char **out, tsr_error *err) {
  *out = NULL;
  if (!sodium_ready()) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "libsodium failed to start");
  size_t clen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
  unsigned char *c = malloc(clen);
  size_t b64 = sodium_base64_ENCODED_LEN(clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *s = malloc(3 + 9 + b64 + 1);
  if (!c || !s) {
    free(c);
    free(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  randombytes_buf(c, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(c + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, len, c, key);
  char kid[9];
  tsr_pii_key_id(key, kid);
  memcpy(s, "v1:", 3);
  memcpy(s + 3, kid, 8);
  s[11] = ':';
  sodium_bin2base64(s + 12, b64, c, clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  free(c);
  *out = s;
  return TSR_OK;
}

tsr_status tsr_pii_open(const unsigned char key[TSR_PII_KEY_BYTES], const char *sealed, char **out,
                        size_t *len, tsr_error *err) {
  *out = NULL;
  if (!sodium_ready()) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "libsodium failed to start");
  if (strncmp(sealed, "v1:", 3) != 0 || strlen(sealed) < 12 || sealed[11] != ':')
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, NULL, "expected a sealed value 'v1:KEYID:...'");
  char kid[9];
  tsr_pii_key_id(key, kid);
  if (memcmp(sealed + 3, kid, 8) != 0)
    return tsr_error_set(err, TSR_EAUTH, NULL, 0, 0, NULL,
                         "sealed with key %.8s, not with the given key %s", sealed + 3, kid);
  const char *b = sealed + 12;
  size_t blen = strlen(b);
  size_t cap = blen * 3 / 4 + 4, clen = 0;
  unsigned char *c = malloc(cap);
  if (!c) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (sodium_base642bin(c, cap, b, blen, NULL, &clen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      clen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    free(c);
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, NULL, "expected base64 after the key id");
  }
  size_t mlen = clen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
  char *m = malloc(mlen + 1);
  if (!m) {
    free(c);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  if (crypto_secretbox_open_easy((unsigned char *)m, c + crypto_secretbox_NONCEBYTES,
                                 clen - crypto_secretbox_NONCEBYTES, c, key) != 0) {
    free(c);
    free(m);
    return tsr_error_set(err, TSR_EAUTH, NULL, 0, 0, NULL, "the sealed value does not open with this key (altered?)");
  }
  free(c);
  m[mlen] = '\0';
  *out = m;
  if (len) *len = mlen;
  return TSR_OK;
}
