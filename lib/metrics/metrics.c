/* Prometheus registry: families under a registry mutex, children under a family mutex,
 * values in atomics.
 *
 * Values are doubles kept as their bit patterns in _Atomic uint64_t and updated with a
 * compare-and-swap loop (C11 has no atomic floating-point add); histogram buckets are
 * plain atomic counters, stored per bucket and summed into cumulative counts at render
 * time, with _count derived from the same sum so it always equals the +Inf bucket.
 * Children are found by a key that length-prefixes each label value ("5:hello3:abc"), so
 * no label value can collide with another tuple. The registry keeps families sorted by
 * name; rendering sorts a family's children by their label values, so output is
 * deterministic. Lock order: registry, then one family; never the reverse.
 */
#include "metrics/metrics.h"

#include "core/error.h"
#include "core/map.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind_e { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

struct cp_metric_child_s {
  cp_metric_t *m;
  char **values;           /* m->nlabels strings */
  _Atomic uint64_t value;  /* counter or gauge: double bits */
  _Atomic uint64_t sum;    /* histogram: double bits */
  cp_metric_gauge_fn fn;   /* gauge function, under m->mu */
  void *fn_ud;             /* under m->mu */
  _Atomic uint64_t hits[]; /* histogram: per bucket, the last one +Inf */
};

struct cp_metric_s {
  kind_t kind;
  char *name;
  char *help;
  char **labels;
  size_t nlabels;
  double *buckets;
  size_t nbuckets;
  pthread_mutex_t mu;
  cp_map_t by_key; /* label key -> child */
  cp_metric_child_t **children;
  size_t nchildren, cap;
};

struct cp_metrics_s {
  pthread_mutex_t mu;
  cp_metric_t **metrics; /* sorted by name */
  size_t n, cap;
};

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

/* ---- atomics on doubles ------------------------------------------------------------ */

static double bits_to_double(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static uint64_t double_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

static void atomic_add_double(_Atomic uint64_t *a, double v) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(a, &old, double_to_bits(bits_to_double(old) + v),
                                                memory_order_relaxed, memory_order_relaxed))
    ;
}

static double atomic_get_double(_Atomic uint64_t *a) {
  return bits_to_double(atomic_load_explicit(a, memory_order_relaxed));
}

/* ---- registration ------------------------------------------------------------------ */

static bool valid_name(const char *s, bool colon) {
  if (!s || !*s)
    return false;
  for (const char *p = s; *p; p++) {
    char ch = *p;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (colon && ch == ':') || (p != s && ch >= '0' && ch <= '9');
    if (!ok)
      return false;
  }
  return true;
}

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

static void metric_free(cp_metric_t *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nchildren; i++) {
    free_strv(m->children[i]->values, m->nlabels);
    free(m->children[i]);
  }
  free(m->children);
  cp_map_free(&m->by_key, NULL);
  pthread_mutex_destroy(&m->mu);
  free_strv(m->labels, m->nlabels);
  free(m->buckets);
  free(m->name);
  free(m->help);
  free(m);
}

static bool same_definition(const cp_metric_t *m, kind_t kind, const char *const *labels,
                            size_t nlabels, const double *buckets, size_t nbuckets) {
  if (m->kind != kind || m->nlabels != nlabels || m->nbuckets != nbuckets)
    return false;
  for (size_t i = 0; i < nlabels; i++)
    if (strcmp(m->labels[i], labels[i]) != 0)
      return false;
  for (size_t i = 0; i < nbuckets; i++)
    if (m->buckets[i] != buckets[i])
      return false;
  return true;
}

static int child_create(cp_metric_t *m, const char *const *values, const char *key,
                        cp_metric_child_t **out);

static int metric_new(kind_t kind, const char *name, const char *help, const char *const *labels,
                      size_t nlabels, const double *buckets, size_t nbuckets, cp_metric_t **out) {
  cp_metric_t *m = calloc(1, sizeof *m);
  if (!m)
    return CP_ENOMEM;
  if (pthread_mutex_init(&m->mu, NULL) != 0) {
    free(m);
    return CP_ENOMEM;
  }
  cp_map_init(&m->by_key);
  m->kind = kind;
  m->name = strdup(name);
  m->help = strdup(help ? help : "");
  m->labels = calloc(nlabels + 1, sizeof *m->labels);
  m->buckets = calloc(nbuckets + 1, sizeof *m->buckets);
  bool ok = m->name && m->help && m->labels && m->buckets;
  for (size_t i = 0; ok && i < nlabels; i++)
    ok = (m->labels[i] = strdup(labels[i])) != NULL;
  m->nlabels = nlabels; /* unset entries are NULL: free_strv copes */
  if (ok && nbuckets)
    memcpy(m->buckets, buckets, nbuckets * sizeof *buckets);
  m->nbuckets = nbuckets;
  cp_metric_child_t *only;
  /* a metric without labels has its one child from the start, exposed at 0 */
  if (!ok || (nlabels == 0 && child_create(m, NULL, "", &only) != 0)) {
    metric_free(m);
    return CP_ENOMEM;
  }
  *out = m;
  return 0;
}

static int do_register(cp_metrics_t *reg, kind_t kind, const char *name, const char *help,
                       const char *const *labels, const double *buckets, size_t nbuckets,
                       cp_metric_t **out) {
  if (!reg || !out || !valid_name(name, true))
    return CP_EINVAL;
  size_t nlabels = 0;
  for (; labels && labels[nlabels]; nlabels++) {
    const char *l = labels[nlabels];
    if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
        (kind == KIND_HISTOGRAM && strcmp(l, "le") == 0))
      return CP_EINVAL;
    for (size_t j = 0; j < nlabels; j++)
      if (strcmp(labels[j], l) == 0)
        return CP_EINVAL;
  }
  pthread_mutex_lock(&reg->mu);
  size_t lo = 0, hi = reg->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(reg->metrics[mid]->name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  int rc = 0;
  if (lo < reg->n && strcmp(reg->metrics[lo]->name, name) == 0) {
    cp_metric_t *m = reg->metrics[lo];
    if (same_definition(m, kind, labels, nlabels, buckets, nbuckets))
      *out = m;
    else
      rc = CP_EINVAL;
    goto out;
  }
  if (reg->n == reg->cap) {
    size_t cap = reg->cap ? reg->cap * 2 : 16;
    cp_metric_t **grown = realloc(reg->metrics, cap * sizeof *grown);
    if (!grown) {
      rc = CP_ENOMEM;
      goto out;
    }
    reg->metrics = grown;
    reg->cap = cap;
  }
  cp_metric_t *m;
  rc = metric_new(kind, name, help, labels, nlabels, buckets, nbuckets, &m);
  if (rc)
    goto out;
  memmove(reg->metrics + lo + 1, reg->metrics + lo, (reg->n - lo) * sizeof *reg->metrics);
  reg->metrics[lo] = m;
  reg->n++;
  *out = m;
out:
  pthread_mutex_unlock(&reg->mu);
  return rc;
}

int cp_metrics_new(cp_metrics_t **out) {
  if (!out)
    return CP_EINVAL;
  cp_metrics_t *reg = calloc(1, sizeof *reg);
  if (!reg)
    return CP_ENOMEM;
  if (pthread_mutex_init(&reg->mu, NULL) != 0) {
    free(reg);
    return CP_ENOMEM;
  }
  *out = reg;
  return 0;
}

void cp_metrics_free(cp_metrics_t *reg) {
  if (!reg)
    return;
  for (size_t i = 0; i < reg->n; i++)
    metric_free(reg->metrics[i]);
  free(reg->metrics);
  pthread_mutex_destroy(&reg->mu);
  free(reg);
}

int cp_metrics_counter(cp_metrics_t *reg, const char *name, const char *help,
                       const char *const *labels, cp_metric_t **out) {
  return do_register(reg, KIND_COUNTER, name, help, labels, NULL, 0, out);
}

int cp_metrics_gauge(cp_metrics_t *reg, const char *name, const char *help,
                     const char *const *labels, cp_metric_t **out) {
  return do_register(reg, KIND_GAUGE, name, help, labels, NULL, 0, out);
}

int cp_metrics_histogram(cp_metrics_t *reg, const char *name, const char *help,
                         const char *const *labels, const double *buckets, size_t nbuckets,
                         cp_metric_t **out) {
  if (!buckets) {
    buckets = default_buckets;
    nbuckets = sizeof default_buckets / sizeof *default_buckets;
  }
  if (nbuckets > 0 && isinf(buckets[nbuckets - 1]) && buckets[nbuckets - 1] > 0)
    nbuckets--;
  if (nbuckets == 0 || nbuckets > 1000)
    return CP_EINVAL;
  for (size_t i = 0; i < nbuckets; i++)
    if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
      return CP_EINVAL;
  return do_register(reg, KIND_HISTOGRAM, name, help, labels, buckets, nbuckets, out);
}

/* ---- children ---------------------------------------------------------------------- */

/* Builds the lookup key into a heap string; NULL on ENOMEM or a NULL value (*bad set). */
static char *child_key(const cp_metric_t *m, const char *const *values, bool *bad) {
  size_t len = 1;
  for (size_t i = 0; i < m->nlabels; i++) {
    if (!values || !values[i]) {
      *bad = true;
      return NULL;
    }
    len += strlen(values[i]) + 24;
  }
  char *key = malloc(len), *p = key;
  if (!key)
    return NULL;
  *p = '\0';
  for (size_t i = 0; i < m->nlabels; i++) {
    size_t n = strlen(values[i]);
    p += snprintf(p, (size_t)(key + len - p), "%zu:", n);
    memcpy(p, values[i], n);
    p += n;
    *p = '\0';
  }
  return key;
}

/* Creates and indexes a child; m->mu held (or m not yet shared). */
static int child_create(cp_metric_t *m, const char *const *values, const char *key,
                        cp_metric_child_t **out) {
  if (m->nchildren >= CP_METRICS_MAX_CHILDREN)
    return CP_ETOOBIG;
  if (m->nchildren == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 4;
    cp_metric_child_t **grown = realloc(m->children, cap * sizeof *grown);
    if (!grown)
      return CP_ENOMEM;
    m->children = grown;
    m->cap = cap;
  }
  size_t nhits = m->kind == KIND_HISTOGRAM ? m->nbuckets + 1 : 0;
  cp_metric_child_t *c = calloc(1, sizeof *c + nhits * sizeof c->hits[0]);
  if (!c)
    return CP_ENOMEM;
  c->m = m;
  c->values = calloc(m->nlabels + 1, sizeof *c->values);
  bool ok = c->values != NULL;
  for (size_t i = 0; ok && i < m->nlabels; i++)
    ok = (c->values[i] = strdup(values[i])) != NULL;
  if (!ok || cp_map_put(&m->by_key, key, c, NULL) != 0) {
    free_strv(c->values, m->nlabels);
    free(c);
    return CP_ENOMEM;
  }
  atomic_init(&c->value, double_to_bits(0));
  atomic_init(&c->sum, double_to_bits(0));
  for (size_t i = 0; i < nhits; i++)
    atomic_init(&c->hits[i], 0);
  m->children[m->nchildren++] = c;
  *out = c;
  return 0;
}

int cp_metric_child(cp_metric_t *m, const char *const *values, cp_metric_child_t **out) {
  if (!m || !out)
    return CP_EINVAL;
  if (m->nlabels == 0) {
    *out = m->children[0]; /* created at registration, never moves */
    return 0;
  }
  bool bad = false;
  char *key = child_key(m, values, &bad);
  if (!key)
    return bad ? CP_EINVAL : CP_ENOMEM;
  pthread_mutex_lock(&m->mu);
  cp_metric_child_t *c = cp_map_get(&m->by_key, key);
  int rc = c ? 0 : child_create(m, values, key, &c);
  pthread_mutex_unlock(&m->mu);
  free(key);
  if (rc == 0)
    *out = c;
  return rc;
}

void cp_metric_child_add(cp_metric_child_t *c, double v) {
  if (!c || c->m->kind == KIND_HISTOGRAM || (c->m->kind == KIND_COUNTER && !(v >= 0)))
    return;
  atomic_add_double(&c->value, v);
}

void cp_metric_child_set(cp_metric_child_t *c, double v) {
  if (c && c->m->kind == KIND_GAUGE)
    atomic_store_explicit(&c->value, double_to_bits(v), memory_order_relaxed);
}

void cp_metric_child_observe(cp_metric_child_t *c, double v) {
  if (!c || c->m->kind != KIND_HISTOGRAM)
    return;
  const double *b = c->m->buckets;
  size_t lo = 0, hi = c->m->nbuckets; /* first bucket with v <= bound; NaN lands in +Inf */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v <= b[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  if (isnan(v))
    lo = c->m->nbuckets;
  atomic_fetch_add_explicit(&c->hits[lo], 1, memory_order_relaxed);
  atomic_add_double(&c->sum, v);
}

static int update(cp_metric_t *m, const char *const *values, kind_t kind, double v,
                  void (*op)(cp_metric_child_t *, double)) {
  if (!m || m->kind != kind || (kind == KIND_COUNTER && !(v >= 0)))
    return CP_EINVAL;
  cp_metric_child_t *c;
  int rc = cp_metric_child(m, values, &c);
  if (rc == 0)
    op(c, v);
  return rc;
}

int cp_counter_add(cp_metric_t *m, const char *const *values, double v) {
  return update(m, values, KIND_COUNTER, v, cp_metric_child_add);
}

int cp_gauge_set(cp_metric_t *m, const char *const *values, double v) {
  return update(m, values, KIND_GAUGE, v, cp_metric_child_set);
}

int cp_gauge_add(cp_metric_t *m, const char *const *values, double v) {
  return update(m, values, KIND_GAUGE, v, cp_metric_child_add);
}

int cp_histogram_observe(cp_metric_t *m, const char *const *values, double v) {
  return update(m, values, KIND_HISTOGRAM, v, cp_metric_child_observe);
}

static int set_func(cp_metric_t *m, kind_t kind, const char *const *values, cp_metric_value_fn fn,
                    void *ud) {
  if (!m || m->kind != kind)
    return CP_EINVAL;
  cp_metric_child_t *c;
  int rc = cp_metric_child(m, values, &c);
  if (rc)
    return rc;
  pthread_mutex_lock(&m->mu);
  c->fn = fn;
  c->fn_ud = fn ? ud : NULL;
  pthread_mutex_unlock(&m->mu);
  return 0;
}

int cp_gauge_set_func(cp_metric_t *m, const char *const *values, cp_metric_gauge_fn fn, void *ud) {
  return set_func(m, KIND_GAUGE, values, fn, ud);
}

int cp_counter_set_func(cp_metric_t *m, const char *const *values, cp_metric_value_fn fn,
                        void *ud) {
  return set_func(m, KIND_COUNTER, values, fn, ud);
}

/* ---- rendering ---------------------------------------------------------------------- */

typedef struct out_s {
  cp_buf_t *b;
  int rc; /* first error; later writes are skipped */
} out_t;

static void put(out_t *o, const char *s, size_t n) {
  if (!o->rc)
    o->rc = cp_buf_append(o->b, s, n);
}

static void puts_(out_t *o, const char *s) {
  put(o, s, strlen(s));
}

/* Escapes backslash and newline, and also '"' when quote is set. */
static void put_escaped(out_t *o, const char *s, bool quote) {
  const char *run = s;
  for (; *s; s++) {
    const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : (quote && *s == '"') ? "\\\"" : 0;
    if (!rep)
      continue;
    put(o, run, (size_t)(s - run));
    puts_(o, rep);
    run = s + 1;
  }
  put(o, run, (size_t)(s - run));
}

/* Formats v as the shortest of %.15g..%.17g that reads back exactly, with Prometheus'
 * spellings of infinities and NaN. Returns buf. */
static const char *fmt_double(char *buf, size_t n, double v) {
  if (isnan(v))
    return "NaN";
  if (isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  return buf;
}

/* {a="x",b="y"} plus an optional le="..." pair; nothing when there are no labels. */
static void put_labels(out_t *o, const cp_metric_child_t *c, const char *le) {
  const cp_metric_t *m = c->m;
  if (m->nlabels == 0 && !le)
    return;
  puts_(o, "{");
  for (size_t i = 0; i < m->nlabels; i++) {
    if (i)
      puts_(o, ",");
    puts_(o, m->labels[i]);
    puts_(o, "=\"");
    put_escaped(o, c->values[i], true);
    puts_(o, "\"");
  }
  if (le) {
    puts_(o, m->nlabels ? ",le=\"" : "le=\"");
    puts_(o, le);
    puts_(o, "\"");
  }
  puts_(o, "}");
}

static void put_sample(out_t *o, const char *name, const char *suffix, const cp_metric_child_t *c,
                       const char *le, double v) {
  puts_(o, name);
  puts_(o, suffix);
  put_labels(o, c, le);
  char num[40];
  puts_(o, " ");
  puts_(o, fmt_double(num, sizeof num, v));
  puts_(o, "\n");
}

static int cmp_children(const void *a, const void *b) {
  const cp_metric_child_t *x = *(const cp_metric_child_t *const *)a;
  const cp_metric_child_t *y = *(const cp_metric_child_t *const *)b;
  for (size_t i = 0; i < x->m->nlabels; i++) {
    int r = strcmp(x->values[i], y->values[i]);
    if (r)
      return r;
  }
  return 0;
}

static void render_histogram(out_t *o, const cp_metric_t *m, cp_metric_child_t *c) {
  uint64_t cum = 0;
  char le[40];
  for (size_t i = 0; i <= m->nbuckets; i++) {
    cum += atomic_load_explicit(&c->hits[i], memory_order_relaxed);
    const char *bound = i < m->nbuckets ? fmt_double(le, sizeof le, m->buckets[i]) : "+Inf";
    put_sample(o, m->name, "_bucket", c, bound, (double)cum);
  }
  put_sample(o, m->name, "_sum", c, NULL, atomic_get_double(&c->sum));
  put_sample(o, m->name, "_count", c, NULL, (double)cum);
}

static void render_metric(out_t *o, cp_metric_t *m) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  pthread_mutex_lock(&m->mu);
  size_t n = m->nchildren;
  cp_metric_child_t **sorted = n ? malloc(n * sizeof *sorted) : NULL;
  if (n && !sorted) {
    o->rc = o->rc ? o->rc : CP_ENOMEM;
    goto out;
  }
  if (n == 0)
    goto out;
  memcpy(sorted, m->children, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp_children);
  puts_(o, "# HELP ");
  puts_(o, m->name);
  puts_(o, " ");
  put_escaped(o, m->help, false);
  puts_(o, "\n# TYPE ");
  puts_(o, m->name);
  puts_(o, " ");
  puts_(o, types[m->kind]);
  puts_(o, "\n");
  for (size_t i = 0; i < n && !o->rc; i++) {
    cp_metric_child_t *c = sorted[i];
    if (m->kind == KIND_HISTOGRAM)
      render_histogram(o, m, c);
    else
      put_sample(o, m->name, "", c, NULL, c->fn ? c->fn(c->fn_ud) : atomic_get_double(&c->value));
  }
out:
  pthread_mutex_unlock(&m->mu);
  free(sorted);
}

int cp_metrics_render(cp_metrics_t *reg, cp_buf_t *out) {
  if (!reg || !out)
    return CP_EINVAL;
  size_t start = out->len;
  out_t o = {out, 0};
  pthread_mutex_lock(&reg->mu);
  for (size_t i = 0; i < reg->n && !o.rc; i++)
    render_metric(&o, reg->metrics[i]);
  pthread_mutex_unlock(&reg->mu);
  if (o.rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
  }
  return o.rc;
}
