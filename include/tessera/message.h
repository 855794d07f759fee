/*
 * tessera/message.h - personalised messages from templates (docs/messages.md).
 *
 * A template file holds blocks; each starts with a header line
 *   [offer=ID|* segment=NAME|* channel=sms|push|email variant=NAME]
 * followed by the text. Lines starting with '#' outside a text are
 * comments. In the text:
 *   {field}                  a field (first_name, product, segment,
 *                            clv_tier, next_best_product, offer_name,
 *                            n_products); missing -> the documented default
 *   {field|text}             missing -> text
 *   {if field}..{else}..{end}, {if field=value}, {if field!=value}
 *                            conditionals (nestable)
 *   {plural field one other} "one" when the number is 1, else "other"
 *   {{ and }}                literal braces
 * Personal fields (first_name) are used only on channels that allow them
 * (sms, email; not push, which shows on lock screens): elsewhere the
 * default is used. Texts longer than the channel's limit (sms 160, push
 * 120, email 2000 characters) are refused (TSR_ELIMIT) so that the caller
 * can try another variant.
 */
#ifndef TESSERA_MESSAGE_H
#define TESSERA_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TSR_CHANNEL_SMS = 0, TSR_CHANNEL_PUSH = 1, TSR_CHANNEL_EMAIL = 2 } tsr_channel;
TSR_API const char *tsr_channel_name(tsr_channel c);
TSR_API tsr_status tsr_channel_parse(const char *s, tsr_channel *c, tsr_error *err);
/* Characters (UTF-8 code points) a message may have on the channel. */
TSR_API size_t tsr_channel_limit(tsr_channel c);
/* 1 when personal fields may appear on the channel. */
TSR_API int tsr_channel_personal(tsr_channel c);

typedef struct tsr_msg_fields {
  const char *first_name;        /* personal; NULL = missing */
  const char *product;
  const char *segment;
  const char *clv_tier;          /* "high", "medium", "low" */
  const char *next_best_product;
  const char *offer_name;
  double n_products;             /* NaN = missing */
} tsr_msg_fields;

typedef struct tsr_msg_templates tsr_msg_templates;

/* Parses a template file's text (name for errors: "FILE:LINE:COL").
 * OUT: *out (tsr_msg_templates_free). TSR_EPARSE on a bad header, an
 * unknown field, an unbalanced {if}/{end}. */
TSR_API tsr_status tsr_msg_templates_parse(const char *text, size_t len, const char *name,
                                           tsr_msg_templates **out, tsr_error *err);
TSR_API void tsr_msg_templates_free(tsr_msg_templates *t);
TSR_API size_t tsr_msg_templates_count(const tsr_msg_templates *t);

/* The variants for (offer, segment, channel) at the most specific level
 * (exact offer and segment, then offer with segment *, then * with the
 * segment, then * and *): up to cap template indices into idx. Returns the
 * number found (0 = no template). */
TSR_API size_t tsr_msg_match(const tsr_msg_templates *t, const char *offer, const char *segment,
                             tsr_channel ch, size_t *idx, size_t cap);
TSR_API const char *tsr_msg_variant(const tsr_msg_templates *t, size_t i);

/* Renders template i for the fields on channel ch into out (cap bytes,
 * NUL-terminated). sms and push texts are on one line. TSR_ELIMIT when the
 * text is longer than the channel's limit or cap. */
TSR_API tsr_status tsr_msg_render(const tsr_msg_templates *t, size_t i, tsr_channel ch,
                                  const tsr_msg_fields *f, char *out, size_t cap, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
