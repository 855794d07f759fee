/*
 * tessera/sentiment.h - a lexicon sentiment scorer for short English
 * service texts (calls, chats, e-mails), in the manner of VADER (Hutto and
 * Gilbert 2014): a compiled-in lexicon of a few hundred words with
 * valences in [-4, 4], negation ("not", "no", "never", "n't", ... within
 * three words before flips and damps a valence by -0.74), intensifiers and
 * dampeners ("very" +0.293, "slightly" -0.293, ...), capitals for emphasis,
 * "but" (valences before it x0.5, after it x1.5) and exclamation marks.
 * The sum s of valences is normalised to compound = s / sqrt(s^2 + 15) in
 * (-1, 1). No network, no model file. See docs/sentiment.md.
 *
 * Pure functions; thread-safe.
 */
#ifndef TESSERA_SENTIMENT_H
#define TESSERA_SENTIMENT_H

#include <stddef.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_sentiment_label {
  TSR_SENTIMENT_NEGATIVE = -1,
  TSR_SENTIMENT_NEUTRAL = 0,
  TSR_SENTIMENT_POSITIVE = 1
} tsr_sentiment_label;

typedef struct tsr_sentiment_result {
  double compound;     /* (-1, 1); 0 when no lexicon word was found */
  size_t words;        /* tokens read */
  size_t hits;         /* tokens found in the lexicon */
} tsr_sentiment_result;

/* Scores text[0..len) (UTF-8; non-ASCII letters end a word). */
TSR_API void tsr_sentiment_score(const char *text, size_t len,
                                 tsr_sentiment_result *out);
/* positive when compound >= threshold, negative when <= -threshold, else
 * neutral. threshold in [0, 1); VADER's usual value is 0.05. */
TSR_API tsr_sentiment_label tsr_sentiment_classify(double compound,
                                                   double threshold);
/* "negative", "neutral", "positive" (static storage). */
TSR_API const char *tsr_sentiment_label_name(tsr_sentiment_label l);
/* Valence of a lowercase word in the lexicon, 0 when absent. */
TSR_API double tsr_sentiment_valence(const char *word, size_t len);
/* Number of lexicon entries. */
TSR_API size_t tsr_sentiment_lexicon_size(void);

#ifdef __cplusplus
}
#endif
#endif
