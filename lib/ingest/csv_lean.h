/*
 * csv_lean.h - the body of csv.c's fast reader (tsr__csv_next_lean),
 * included once a build of it: LEAN_NAME the function's name, LEAN_ATTR
 * its attributes (a target), LEAN_WINDOW(p, dl, &md, &mx, &ms) the masks
 * of 64 bytes at p (delimiters; LF, CR and quotes; bytes <= 0x20), or not
 * defined for none (a byte at a time). Only csv.c includes it.
 */
/* The fast reader (lib/internal.h): a record that lies wholly in the
 * buffer, holds no quote and ends with LF or CRLF is split in one pass (64
 * bytes at a time) and its fields point into the read buffer; anything
 * else (quotes, lone CR, blank lines, limits, the buffer end, whitespace
 * mode, the first record) goes through tsr_csv_next (0 is returned for
 * those and the reader left as it was). Returns 1, or 2 when a field
 * starts or ends with a space byte (' ', tab, VT, FF), found here so that
 * the caller need not look at every field again for them.
 *
 * The scan only notes each field's end (one store a delimiter); the
 * tsr_csv_field records are made afterwards for the fields in want (bit k:
 * field k) - all of them when want is all ones, when the record has not
 * expect fields (the caller's reject names any field), more than 64, or a
 * field with a space at an end (the row's hash reads every field). The
 * space test is one of whole windows: a byte <= 0x20 (the space bytes and
 * other controls) next to a field boundary sends the record to the exact
 * test of each field's two end bytes, as before. */
LEAN_ATTR static int LEAN_NAME(tsr_csv *c, tsr_csv_record *rec, uint64_t want, size_t expect) {
  if (!c->started || c->opts.delim == TSR_CSV_WS) return 0;
  const char *const b = c->buf;
  const size_t len = c->len, pos = c->pos;
  if (pos >= len || b[pos] == '\n' || b[pos] == '\r') return 0;
  const char dl = (char)c->opts.delim;
  uint32_t *ends = c->ends;
  size_t ecap = c->ecap;
  size_t nf = 0, i = pos, end, next;
  unsigned edge_near = 0; /* a byte <= 0x20 next to a field boundary */
#ifdef LEAN_WINDOW
  /* 64 bytes a step (LEAN_WINDOW): a mask of delimiters, one of the bytes
   * that end or leave the fast path (LF, CR, quote) and one of bytes
   * <= 0x20; the delimiters before the first stop are the row's field
   * ends in this window. One mispredicted loop exit a window, not one a
   * field. */
  uint64_t start = 1, prev_sp = 0; /* a field starts at bit 0; bit 63 of the
                                      last window's low bytes */
  for (; i + 64 <= len; i += 64) {
    uint64_t md, mx, ms;
    LEAN_WINDOW(b + i, dl, &md, &mx, &ms);
    const uint64_t stop = mx & (0 - mx), live = stop ? stop - 1 : ~(uint64_t)0;
    ms &= live & ~md;                 /* a delimiter is never a space to trim */
    md &= live;                       /* the delimiters before the stop */
    const uint64_t bound = md | stop; /* a field's last byte is before one */
    edge_near |= (ms & ((bound >> 1) | (md << 1) | start)) != 0;
    edge_near |= (unsigned)(bound & prev_sp & 1);
    start = md >> 63;
    prev_sp = ms >> 63;
    if (nf + 64 > ecap) { /* room for a window of delimiters */
      if (!(ends = ends_grow(c, nf + 64))) return 0;
      ecap = c->ecap;
    }
    while (md) {
      ends[nf++] = (uint32_t)(i - pos + (size_t)__builtin_ctzll(md));
      md &= md - 1;
    }
    if (mx) {
      size_t j = i + (size_t)__builtin_ctzll(mx);
      char ch = b[j];
      if (ch == '\n') {
        end = j;
        next = j + 1;
        goto found;
      }
      if (ch == '\r' && j + 1 < len && b[j + 1] == '\n') {
        end = j;
        next = j + 2;
        goto found;
      }
      return 0; /* quote or lone CR */
    }
    if (i + 64 - pos > (size_t)UINT32_MAX - 64) return 0;
  }
#endif
  /* the end of the buffer: a byte at a time, the ends tested exactly */
  edge_near = 1;
  for (; i < len; i++) {
    char ch = b[i];
    if (ch == dl) {
      if (nf >= ecap) {
        if (!(ends = ends_grow(c, nf + 1))) return 0;
        ecap = c->ecap;
      }
      if (i - pos > (size_t)UINT32_MAX - 64) return 0;
      ends[nf++] = (uint32_t)(i - pos);
    } else if (ch == '\n') {
      end = i;
      next = i + 1;
      goto found;
    } else if (ch == '\r' || ch == '"') {
      if (ch == '\r' && i + 1 < len && b[i + 1] == '\n') {
        end = i;
        next = i + 2;
        goto found;
      }
      return 0;
    }
  }
  return 0; /* no line end in the buffer */
found:
  if (end - pos > (size_t)UINT32_MAX - 64) return 0; /* the ends are 32-bit */
  if (nf >= ecap && !(ends = ends_grow(c, nf + 1))) return 0;
  ends[nf++] = (uint32_t)(end - pos);
  if (nf > c->opts.max_fields) return 0;
  const char *const r = b + pos;
  if (end - pos > c->opts.max_field) {
    for (size_t k = 0; k < nf; k++)
      if (ends[k] - (k ? ends[k - 1] + 1 : 0) > c->opts.max_field) return 0;
  }
  unsigned trim = 0;
  if (edge_near) {
    const unsigned char *edge = c->edge;
    for (size_t k = 0; k < nf; k++) {
      size_t fs = k ? ends[k - 1] + 1 : 0, j = ends[k];
      trim |= edge[(unsigned char)r[fs]] | edge[(unsigned char)r[j - (j > fs)]];
    }
  }
  if (trim || nf != expect || nf > 64) want = ~(uint64_t)0;
  tsr_csv_field *fl = c->fields;
  if (nf > c->fcap && !(fl = fields_grow(c, nf))) return 0;
  const int64_t line = c->line, col = c->base_off - c->line_start + 1 + (int64_t)pos;
  if (want == ~(uint64_t)0) {
    for (size_t k = 0; k < nf; k++) {
      size_t fs = k ? ends[k - 1] + 1 : 0;
      fl[k] = (tsr_csv_field){r + fs, ends[k] - fs, line, col + (int64_t)fs, 0};
    }
  } else {
    for (uint64_t w = want & (nf >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << nf) - 1); w; w &= w - 1) {
      size_t k = (size_t)__builtin_ctzll(w), fs = k ? ends[k - 1] + 1 : 0;
      fl[k] = (tsr_csv_field){r + fs, ends[k] - fs, line, col + (int64_t)fs, 0};
    }
  }
  rec->fields = fl;
  rec->nfields = nf;
  rec->line = line;
  rec->end_line = line;
  rec->raw = r;
  rec->raw_len = end - pos;
  rec->offset = c->base_off + (int64_t)pos;
  c->pos = next;
  c->line = line + 1;
  c->line_start = c->base_off + (int64_t)next;
  return trim ? 2 : 1;
}
