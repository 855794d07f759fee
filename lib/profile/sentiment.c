/*
 * sentiment.c - lexicon sentiment scorer (tessera/sentiment.h), after VADER
 * (Hutto and Gilbert 2014, "VADER: a parsimonious rule-based model for
 * sentiment analysis of social media text"): the constants (booster 0.293,
 * negation -0.74, caps 0.733, "but" 0.5/1.5, exclamation 0.292, alpha 15)
 * are VADER's. The lexicon is our own, written for banking service texts;
 * words that name a service topic ("fraud", "charge") carry no valence, and
 * "would like" is a request, not a liking.
 */
#include "tessera/sentiment.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* word:valence, sorted at first use is not possible without state, so the
 * list is kept in strict alphabetical order (checked by the unit test). */
typedef struct lex_entry {
  const char *w;
  double v;
} lex_entry;

static const lex_entry lexicon[] = {
    {"abandon", -1.9}, {"abuse", -3.2}, {"accept", 1.0}, {"acceptable", 1.3}, {"accurate", 1.5},
    {"admire", 2.2}, {"afraid", -2.0}, {"aggravated", -2.5}, {"agree", 1.5}, {"alarming", -2.1},
    {"amazing", 2.8}, {"angry", -2.3}, {"annoyed", -1.6}, {"annoying", -1.8}, {"anxious", -1.5},
    {"appalling", -3.0}, {"appreciate", 2.0}, {"appreciated", 2.0}, {"awesome", 3.1},
    {"awful", -2.8}, {"bad", -2.5}, {"badly", -2.1}, {"best", 3.2}, {"better", 1.9},
    {"blocked", -1.2}, {"bother", -1.4}, {"broken", -1.7}, {"brilliant", 2.8}, {"bug", -1.2},
    {"calm", 1.3}, {"cancel", -1.0}, {"careful", 0.9}, {"careless", -1.5}, {"charged", -0.6}, {"cheat", -2.5}, {"cheated", -2.8}, {"clear", 1.2}, {"clever", 1.9},
    {"comfortable", 1.5}, {"competent", 1.6}, {"complain", -1.7}, {"complaint", -1.6},
    {"complicated", -1.2}, {"concern", -1.0}, {"concerned", -1.2}, {"confused", -1.3},
    {"confusing", -1.4}, {"convenient", 1.6}, {"courteous", 2.1}, {"crap", -2.5},
    {"crash", -1.7}, {"crashes", -1.7}, {"cumbersome", -1.4}, {"damage", -2.0},
    {"dangerous", -2.1}, {"delay", -1.3}, {"delayed", -1.3}, {"delighted", 3.0},
    {"denied", -1.8}, {"dependable", 1.7}, {"desperate", -2.0}, {"difficult", -1.5},
    {"disappointed", -2.2}, {"disappointing", -2.2}, {"disaster", -3.1}, {"disgrace", -2.9},
    {"disgusted", -2.9}, {"dishonest", -2.7}, {"dislike", -1.6}, {"dissatisfied", -2.2},
    {"easy", 1.9}, {"efficient", 1.8}, {"embarrassing", -1.8}, {"enjoy", 2.2}, {"error", -1.7},
    {"errors", -1.7}, {"excellent", 3.2}, {"excited", 2.2}, {"exhausting", -1.5},
    {"expensive", -1.2}, {"fail", -2.2}, {"failed", -2.3}, {"failure", -2.3}, {"fair", 1.3},
    {"fantastic", 2.9}, {"fast", 1.2}, {"fault", -1.7}, {"faulty", -1.8}, {"fine", 0.8},
    {"fix", 0.8}, {"fixed", 1.1}, {"flawless", 2.7}, {"friendly", 2.2},
    {"frustrated", -2.1}, {"frustrating", -2.1}, {"furious", -2.9}, {"glad", 2.0},
    {"good", 1.9}, {"grateful", 2.1}, {"great", 3.1}, {"happy", 2.7}, {"hassle", -1.7},
    {"hate", -2.7}, {"helpful", 1.9}, {"helpless", -2.0}, {"hopeless", -2.2},
    {"horrible", -2.8}, {"ignored", -1.8}, {"impatient", -1.3}, {"impolite", -1.8},
    {"impossible", -1.5}, {"impressed", 2.2}, {"improve", 1.3}, {"improved", 1.6},
    {"inaccurate", -1.6}, {"incompetent", -2.4}, {"inconvenient", -1.4}, {"incorrect", -1.6},
    {"insult", -2.4}, {"issue", -1.0}, {"issues", -1.0}, {"joke", -1.0}, {"kind", 2.0},
    {"late", -1.0}, {"lazy", -1.6}, {"like", 1.5}, {"liked", 1.7}, {"lost", -1.3},
    {"love", 3.2}, {"loved", 3.0}, {"lovely", 2.8}, {"mess", -1.6}, {"messed", -1.8},
    {"mistake", -1.6}, {"mistakes", -1.6}, {"misleading", -2.0}, {"miss", -0.9},
    {"missing", -1.2}, {"nervous", -1.2}, {"nice", 1.8}, {"nightmare", -2.9}, {"ok", 0.9},
    {"okay", 0.9}, {"outrageous", -2.8}, {"overcharged", -2.2}, {"pathetic", -2.6},
    {"patient", 1.3}, {"perfect", 2.8}, {"pleasant", 2.3}, {"pleased", 2.4}, {"poor", -2.1},
    {"polite", 1.9}, {"positive", 2.0}, {"problem", -1.7}, {"problems", -1.7},
    {"professional", 1.8}, {"prompt", 1.3}, {"quick", 1.3}, {"quickly", 1.2}, {"reliable", 1.9},
    {"relieved", 1.9}, {"resolved", 1.6}, {"respect", 1.9}, {"ridiculous", -2.2},
    {"rude", -2.5}, {"sad", -2.1}, {"safe", 1.5}, {"satisfied", 2.0}, {"scam", -2.9},
    {"scared", -1.9}, {"secure", 1.4}, {"shame", -2.0}, {"shocked", -1.8}, {"simple", 1.2},
    {"slow", -1.4}, {"smooth", 1.6}, {"solved", 1.6}, {"sorry", -0.8}, {"stolen", -2.6},
    {"stress", -1.8}, {"stressful", -1.9}, {"stuck", -1.5}, {"stupid", -2.4},
    {"success", 2.2}, {"successful", 2.3}, {"super", 2.5}, {"superb", 3.0}, {"support", 1.0},
    {"supportive", 2.0}, {"terrible", -3.0}, {"terrific", 2.9}, {"thank", 1.5},
    {"thankful", 2.0}, {"thanks", 1.9}, {"trust", 1.9}, {"ugly", -2.1}, {"unable", -1.3},
    {"unacceptable", -2.9}, {"unclear", -1.3}, {"unfair", -2.1}, {"unfriendly", -2.0},
    {"unhappy", -2.3}, {"unhelpful", -2.0}, {"unprofessional", -2.2}, {"unreliable", -2.1},
    {"unresolved", -1.7}, {"upset", -2.0}, {"useful", 1.9}, {"useless", -2.3},
    {"waiting", -0.8}, {"waste", -2.2}, {"wasted", -2.2}, {"welcome", 2.0}, {"well", 1.1},
    {"wonderful", 2.7}, {"works", 0.6}, {"worried", -1.8}, {"worry", -1.7}, {"worse", -2.3},
    {"worst", -3.1}, {"wrong", -2.1}, {"wrongly", -2.0}};

#define NLEX (sizeof lexicon / sizeof lexicon[0])

static const char *const negations[] = {"not", "no", "never", "none", "nobody", "nothing",
                                        "neither", "nor", "without", "hardly", "cannot",
                                        "dont", "doesnt", "didnt", "isnt", "wasnt", "arent",
                                        "werent", "wont", "cant", "couldnt", "shouldnt", NULL};
static const lex_entry boosters[] = {
    {"absolutely", 0.293}, {"completely", 0.293}, {"extremely", 0.293}, {"highly", 0.293},
    {"incredibly", 0.293}, {"quite", 0.293}, {"really", 0.293}, {"so", 0.293},
    {"so much", 0.293}, {"too", 0.293}, {"totally", 0.293}, {"truly", 0.293}, {"very", 0.293},
    {"barely", -0.293}, {"kind of", -0.293}, {"little", -0.293}, {"partly", -0.293},
    {"rather", -0.293}, {"slightly", -0.293}, {"somewhat", -0.293}, {NULL, 0}};

static int cmp_lex(const void *k, const void *e) {
  const lex_entry *x = k, *y = e;
  return strcmp(x->w, y->w);
}

double tsr_sentiment_valence(const char *word, size_t len) {
  char buf[32];
  if (len == 0 || len >= sizeof buf) return 0;
  memcpy(buf, word, len);
  buf[len] = '\0';
  lex_entry key = {buf, 0};
  const lex_entry *e = bsearch(&key, lexicon, NLEX, sizeof *lexicon, cmp_lex);
  return e ? e->v : 0;
}

size_t tsr_sentiment_lexicon_size(void) { return NLEX; }

static int in_list(const char *w, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(w, *list)) return 1;
  return 0;
}

static double booster(const char *w) {
  for (const lex_entry *b = boosters; b->w; b++)
    if (!strcmp(w, b->w)) return b->v;
  return 0;
}

#define MAXTOK 512

void tsr_sentiment_score(const char *text, size_t len, tsr_sentiment_result *out) {
  char tok[MAXTOK][24];
  int caps[MAXTOK];
  size_t nt = 0, nupper = 0, nlower = 0, bang = 0;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)text[i];
    if (c == '!') bang++;
    if (!isalpha(c)) {
      i++;
      continue;
    }
    size_t j = i, o = 0, up = 0, letters = 0;
    while (j < len && (isalpha((unsigned char)text[j]) || text[j] == '\'')) {
      unsigned char d = (unsigned char)text[j];
      if (d != '\'') {
        letters++;
        if (isupper(d)) up++;
        if (o + 1 < sizeof tok[0]) tok[nt < MAXTOK ? nt : 0][o++] = (char)tolower(d);
      }
      j++;
    }
    if (nt < MAXTOK) {
      tok[nt][o] = '\0';
      caps[nt] = letters > 1 && up == letters;
      /* "n't" endings ("doesn't" -> "doesnt") are negations */
      nt++;
    }
    if (up == letters) nupper++;
    else nlower++;
    i = j;
  }
  out->words = nt;
  int mixed = nupper > 0 && nlower > 0;
  double sum = 0;
  size_t but_at = SIZE_MAX;
  for (size_t i = 0; i < nt; i++)
    if (!strcmp(tok[i], "but")) {
      but_at = i;
      break;
    }
  for (size_t i = 0; i < nt; i++) {
    size_t n = strlen(tok[i]);
    double v = tsr_sentiment_valence(tok[i], n);
    if (v == 0) continue;
    /* "would like", "I'd like": wanting, not liking */
    if (!strcmp(tok[i], "like") && i > 0 &&
        (!strcmp(tok[i - 1], "would") || !strcmp(tok[i - 1], "id") || !strcmp(tok[i - 1], "wed")))
      continue;
    out->hits++;
    if (caps[i] && mixed) v += v > 0 ? 0.733 : -0.733;
    /* boosters and negations in the three previous tokens */
    int neg = 0;
    for (size_t k = 1; k <= 3 && k <= i; k++) {
      const char *p = tok[i - k];
      double b = booster(p);
      if (b != 0) {
        double scale = k == 1 ? 1 : k == 2 ? 0.95 : 0.9;
        if (caps[i - k] && mixed) b += b > 0 ? 0.733 : -0.733;
        v += (v > 0 ? b : -b) * scale;
      }
      size_t pl = strlen(p);
      if (in_list(p, negations) || (pl > 2 && !strcmp(p + pl - 2, "nt") && in_list(p, negations)))
        neg = 1;
    }
    if (neg) v *= -0.74;
    if (but_at != SIZE_MAX) v *= i < but_at ? 0.5 : i > but_at ? 1.5 : 1;
    sum += v;
  }
  if (sum != 0 && bang) sum += (sum > 0 ? 1 : -1) * 0.292 * (double)(bang > 4 ? 4 : bang);
  out->compound = sum / sqrt(sum * sum + 15);
}

tsr_sentiment_label tsr_sentiment_classify(double compound, double threshold) {
  if (compound >= threshold && compound != 0) return TSR_SENTIMENT_POSITIVE;
  if (compound <= -threshold && compound != 0) return TSR_SENTIMENT_NEGATIVE;
  return TSR_SENTIMENT_NEUTRAL;
}

const char *tsr_sentiment_label_name(tsr_sentiment_label l) {
  switch (l) {
    case TSR_SENTIMENT_NEGATIVE: return "negative";
    case TSR_SENTIMENT_NEUTRAL: return "neutral";
    case TSR_SENTIMENT_POSITIVE: return "positive";
  }
  return "neutral";
}
