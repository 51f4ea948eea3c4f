/* Quantity parsing in two steps: the text becomes an exact value m * 10^e10 * 2^e2 with
 * m a non-negative int64 (sign kept apart), then that value is scaled to the requested
 * unit with every multiplication overflow-checked and divisions rounded up. Factors of
 * two common to a binary suffix and a negative decimal exponent are cancelled first, so
 * "0.9Ei" computes 9 * 2^59 / 5 and never overflows needlessly. More than 18 significant
 * digits is reported as CP_ETOOBIG, which no real resource value reaches.
 */
#include "kube/quantity.h"
#include "core/error.h"

#include <stdbool.h>
#include <string.h>

#define MAX_EXPONENT 10000

typedef struct qty_s {
  bool neg;
  int64_t m;   /* digits without the decimal point */
  int64_t e10; /* decimal exponent, fraction digits already subtracted */
  int e2;      /* binary exponent from Ki..Ei */
} qty_t;

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* The part after the number: "", a decimal or binary SI suffix, or an exponent. */
static int parse_suffix(const char *p, qty_t *q) {
  static const struct {
    const char *s;
    int e10, e2;
  } suffixes[] = {
      {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
      {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
      {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
  };
  for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
    if (strcmp(p, suffixes[i].s) == 0) {
      q->e10 += suffixes[i].e10;
      q->e2 = suffixes[i].e2;
      return 0;
    }
  }
  if (*p != 'e' && *p != 'E')
    return CP_EPARSE;
  p++;
  bool neg = false;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (!is_digit(*p))
    return CP_EPARSE;
  int64_t e = 0;
  bool big = false;
  for (; is_digit(*p); p++) {
    if (e <= MAX_EXPONENT)
      e = e * 10 + (*p - '0');
    else
      big = true;
  }
  if (*p != '\0')
    return CP_EPARSE;
  if (big || e > MAX_EXPONENT)
    return CP_ETOOBIG;
  q->e10 += neg ? -e : e;
  return 0;
}

static int parse(const char *s, qty_t *out) {
  if (!s)
    return CP_EINVAL;
  if (strnlen(s, CP_QUANTITY_MAX_LEN + 1) > CP_QUANTITY_MAX_LEN)
    return CP_ETOOBIG;
  qty_t q = {0};
  const char *p = s;
  if (*p == '+' || *p == '-')
    q.neg = *p++ == '-';
  int digits = 0, frac = 0, zeros = 0; /* zeros: fraction zeros not yet folded into m */
  bool in_frac = false, big = false;
  for (;; p++) {
    if (is_digit(*p)) {
      int d = *p - '0';
      digits++;
      if (in_frac && d == 0) {
        zeros++;
        continue;
      }
      for (; zeros > 0; zeros--, frac++) {
        if (q.m > INT64_MAX / 10)
          big = true;
        else
          q.m *= 10;
      }
      if (q.m > (INT64_MAX - d) / 10)
        big = true;
      else
        q.m = q.m * 10 + d;
      if (in_frac)
        frac++;
    } else if (*p == '.' && !in_frac) {
      in_frac = true;
    } else {
      break;
    }
  }
  if (digits == 0)
    return CP_EPARSE;
  q.e10 = -frac;
  int rc = parse_suffix(p, &q);
  if (rc < 0)
    return rc;
  if (big)
    return CP_ETOOBIG;
  *out = q;
  return 0;
}

static bool mul(int64_t *r, int64_t f) {
  if (*r > INT64_MAX / f)
    return false;
  *r *= f;
  return true;
}

/* ceil(|q| * 10^extra) with q's sign. */
static int scale(const qty_t *q, int extra, int64_t *out) {
  int64_t r = q->m;
  int64_t k = q->e10 + extra;
  if (r == 0) {
    *out = 0;
    return 0;
  }
  if (k >= 0) {
    for (int i = 0; i < q->e2; i++)
      if (!mul(&r, 2))
        return CP_ETOOBIG;
    for (int64_t i = 0; i < k; i++)
      if (!mul(&r, 10))
        return CP_ETOOBIG;
  } else {
    int64_t kk = -k, common = q->e2 < kk ? q->e2 : kk, den = 1;
    bool tiny = false; /* the denominator passed INT64_MAX, so 0 < value < 1 */
    for (int64_t i = 0; i < q->e2 - common; i++)
      if (!mul(&r, 2))
        return CP_ETOOBIG;
    for (int64_t i = 0; i < kk - common && !tiny; i++)
      tiny = !mul(&den, 2);
    for (int64_t i = 0; i < kk && !tiny; i++)
      tiny = !mul(&den, 5);
    r = tiny ? 1 : r / den + (r % den != 0);
  }
  *out = q->neg ? -r : r;
  return 0;
}

int cp_quantity_parse(const char *s, int64_t *milli) {
  qty_t q;
  int64_t v;
  int rc = parse(s, &q);
  if (rc == 0)
    rc = scale(&q, 3, &v);
  if (rc == 0)
    *milli = v;
  return rc;
}

int cp_quantity_value(const char *s, int64_t *value) {
  qty_t q;
  int64_t v;
  int rc = parse(s, &q);
  if (rc == 0)
    rc = scale(&q, 0, &v);
  if (rc == 0)
    *value = v;
  return rc;
}

int cp_quantity_cmp(const char *a, const char *b, int *cmp) {
  int64_t x, y;
  int rc = cp_quantity_parse(a, &x);
  if (rc == 0)
    rc = cp_quantity_parse(b, &y);
  if (rc == 0)
    *cmp = (x > y) - (x < y);
  return rc;
}
