/*
 * table.c - the live table of the real-time path: customer id -> state
 * (tessera/realtime.h). States in one array (insertion order), ids in one
 * arena (NUL-terminated, offsets in a second array), an open-addressing
 * index of 32-bit entry numbers (load <= 1/2, linear probing).
 */
#include "internal.h"
#include "tessera/realtime.h"

#include <string.h>

struct tsr_rt_table {
  tsr_rt_state *states;
  uint32_t *id_off;   /* offset of each id in ids */
  size_t n, cap;
  char *ids;
  size_t ids_len, ids_cap;
  uint32_t *slots;    /* entry + 1; 0 = empty */
  size_t nslots;      /* power of two */
  char *products[64]; /* product registry */
  int nproducts;
};

tsr_status tsr_rt_table_new(tsr_rt_table **out, tsr_error *err) {
  *out = tsr__calloc(1, sizeof **out);
  if (!*out) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

void tsr_rt_table_free(tsr_rt_table *t) {
  if (!t) return;
  tsr__free(t->states);
  tsr__free(t->id_off);
  tsr__free(t->ids);
  tsr__free(t->slots);
  for (int i = 0; i < t->nproducts; i++) tsr__free(t->products[i]);
  tsr__free(t);
}

int tsr_rt_table_product_bit(tsr_rt_table *t, const char *name) {
  for (int i = 0; i < t->nproducts; i++)
    if (!strcmp(t->products[i], name)) return i;
  if (t->nproducts == 64) return -1;
  char *c = tsr__strdup(name);
  if (!c) return -1;
  t->products[t->nproducts] = c;
  return t->nproducts++;
}

const char *tsr_rt_table_product_name(const tsr_rt_table *t, int bit) {
  return bit >= 0 && bit < t->nproducts ? t->products[bit] : NULL;
}

static uint64_t hash_id(const char *id, size_t len) { return tsr__hash_bytes(id, len, 0x7e55e7a); }

static int rehash(tsr_rt_table *t, size_t nslots) {
  uint32_t *s = tsr__calloc(nslots, sizeof *s);
  if (!s) return -1;
  for (size_t i = 0; i < t->n; i++) {
    const char *id = t->ids + t->id_off[i];
    size_t h = (size_t)hash_id(id, strlen(id)) & (nslots - 1);
    while (s[h]) h = (h + 1) & (nslots - 1);
    s[h] = (uint32_t)(i + 1);
  }
  tsr__free(t->slots);
  t->slots = s;
  t->nslots = nslots;
  return 0;
}

tsr_rt_state *tsr_rt_table_get(tsr_rt_table *t, const char *id, int create) {
  size_t len = strlen(id);
  uint64_t hv = hash_id(id, len);
  if (t->nslots) {
    size_t h = (size_t)hv & (t->nslots - 1);
    while (t->slots[h]) {
      uint32_t e = t->slots[h] - 1;
      if (!strcmp(t->ids + t->id_off[e], id)) return &t->states[e];
      h = (h + 1) & (t->nslots - 1);
    }
  }
  if (!create || t->n >= UINT32_MAX - 1) return NULL;
  if (2 * (t->n + 1) > t->nslots && rehash(t, t->nslots ? 2 * t->nslots : 1024)) return NULL;
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 512;
    tsr_rt_state *ns = tsr__realloc(t->states, nc * sizeof *ns);
    if (!ns) return NULL;
    t->states = ns;
    uint32_t *no = tsr__realloc(t->id_off, nc * sizeof *no);
    if (!no) return NULL;
    t->id_off = no;
    t->cap = nc;
  }
  if (t->ids_len + len + 1 > UINT32_MAX) return NULL;
  void *b = t->ids;
  if (tsr__grow(&b, &t->ids_cap, t->ids_len + len + 1, 1) != TSR_OK) return NULL;
  t->ids = b;
  memcpy(t->ids + t->ids_len, id, len + 1);
  size_t e = t->n++;
  t->id_off[e] = (uint32_t)t->ids_len;
  t->ids_len += len + 1;
  tsr_rt_state_init(&t->states[e]);
  size_t h = (size_t)hv & (t->nslots - 1);
  while (t->slots[h]) h = (h + 1) & (t->nslots - 1);
  t->slots[h] = (uint32_t)(e + 1);
  return &t->states[e];
}

size_t tsr_rt_table_size(const tsr_rt_table *t) { return t->n; }
const char *tsr_rt_table_id(const tsr_rt_table *t, size_t i) { return t->ids + t->id_off[i]; }
tsr_rt_state *tsr_rt_table_state(tsr_rt_table *t, size_t i) { return &t->states[i]; }

size_t tsr_rt_table_bytes(const tsr_rt_table *t) {
  return sizeof *t + t->cap * (sizeof *t->states + sizeof *t->id_off) + t->ids_cap +
         t->nslots * sizeof *t->slots;
}
