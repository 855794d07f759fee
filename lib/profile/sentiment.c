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
    {"abandon", -1.9}, {"abuse", -3.2}, {"accept", 1.0}, {"acceptable", 1.3}, {"accessible", 1.3},
    {"accurate", 1.5}, {"admire", 2.2}, {"advantage", 1.0}, {"affordable", 1.4}, {"afraid", -2.0},
    {"aggravated", -2.5}, {"agree", 1.5}, {"alarming", -2.1}, {"amazing", 2.8}, {"anger", -2.3},
    {"angry", -2.3}, {"annoyed", -1.6}, {"annoying", -1.8}, {"anxious", -1.5}, {"apologise", -0.3},
    {"appalling", -3.0}, {"appreciate", 2.0}, {"appreciated", 2.0}, {"attentive", 1.8},
    {"awesome", 3.1}, {"awful", -2.8}, {"bad", -2.5}, {"badly", -2.1}, {"beautiful", 2.9},
    {"benefit", 1.3}, {"best", 3.2}, {"better", 1.9}, {"bizarre", -1.0}, {"blame", -1.4},
    {"blocked", -1.2}, {"bored", -1.3}, {"boring", -1.3}, {"bother", -1.4}, {"brave", 2.0},
    {"brilliant", 2.8}, {"broken", -1.7}, {"bug", -1.2}, {"calm", 1.3}, {"cancel", -1.0},
    {"careful", 0.9}, {"careless", -1.5}, {"chaos", -2.2}, {"chaotic", -2.0}, {"charged", -0.6},
    {"cheat", -2.5}, {"cheated", -2.8}, {"cheerful", 2.3}, {"clear", 1.2}, {"clever", 1.9},
    {"clumsy", -1.2}, {"comfortable", 1.5}, {"competent", 1.6}, {"complain", -1.7},
    {"complaint", -1.6}, {"complicated", -1.2}, {"concern", -1.0}, {"concerned", -1.2},
    {"confident", 2.0}, {"confused", -1.3}, {"confusing", -1.4}, {"congratulations", 2.9},
    {"convenient", 1.6}, {"cool", 1.3}, {"courteous", 2.1}, {"crap", -2.5}, {"crash", -1.7},
    {"crashes", -1.7}, {"crazy", -1.4}, {"critical", -1.0}, {"cruel", -2.8}, {"cumbersome", -1.4},
    {"damage", -2.0}, {"dangerous", -2.1}, {"decent", 1.3}, {"defective", -1.9}, {"delay", -1.3},
    {"delayed", -1.3}, {"delight", 2.9}, {"delighted", 3.0}, {"denied", -1.8}, {"dependable", 1.7},
    {"desperate", -2.0}, {"destroy", -2.6}, {"difficult", -1.5}, {"disappoint", -2.2},
    {"disappointed", -2.2}, {"disappointing", -2.2}, {"disaster", -3.1}, {"disgrace", -2.9},
    {"disgusted", -2.9}, {"dishonest", -2.7}, {"dislike", -1.6}, {"disorganised", -1.6},
    {"disorganized", -1.6}, {"dissatisfied", -2.2}, {"distress", -2.2}, {"doubt", -1.2},
    {"dreadful", -2.8}, {"dumb", -2.3}, {"eager", 1.5}, {"easy", 1.9}, {"effective", 1.8},
    {"efficient", 1.8}, {"embarrassed", -1.5}, {"embarrassing", -1.8}, {"enjoy", 2.2},
    {"enjoyed", 2.3}, {"error", -1.7}, {"errors", -1.7}, {"excellence", 3.1}, {"excellent", 3.2},
    {"excited", 2.2}, {"exhausting", -1.5}, {"expensive", -1.2}, {"fabulous", 3.0}, {"fail", -2.2},
    {"failed", -2.3}, {"failure", -2.3}, {"fair", 1.3}, {"fantastic", 2.9}, {"fast", 1.2},
    {"fault", -1.7}, {"faulty", -1.8}, {"fear", -2.2}, {"fearful", -2.2}, {"fine", 0.8},
    {"fix", 0.8}, {"fixed", 1.1}, {"flawless", 2.7}, {"fortunate", 1.9}, {"friendly", 2.2},
    {"frightened", -2.0}, {"frustrated", -2.1}, {"frustrating", -2.1}, {"fun", 2.3},
    {"furious", -2.9}, {"generous", 2.3}, {"gentle", 1.7}, {"glad", 2.0}, {"good", 1.9},
    {"gorgeous", 3.0}, {"grateful", 2.1}, {"great", 3.1}, {"grief", -2.2}, {"guilty", -1.8},
    {"happy", 2.7}, {"harm", -2.2}, {"harmful", -2.3}, {"hassle", -1.7}, {"hate", -2.7},
    {"helped", 1.7}, {"helpful", 1.9}, {"helping", 1.6}, {"helpless", -2.0}, {"honest", 2.3},
    {"hopeful", 1.9}, {"hopeless", -2.2}, {"horrible", -2.8}, {"hurt", -2.4}, {"ideal", 2.4},
    {"idiot", -2.3}, {"ignored", -1.8}, {"impatient", -1.3}, {"impolite", -1.8},
    {"impossible", -1.5}, {"impressed", 2.2}, {"improve", 1.3}, {"improved", 1.6},
    {"inaccurate", -1.6}, {"incompetent", -2.4}, {"inconvenient", -1.4}, {"incorrect", -1.6},
    {"incredible", 2.8}, {"infuriating", -2.7}, {"insecure", -1.8}, {"insult", -2.4},
    {"interesting", 1.7}, {"irritated", -1.9}, {"irritating", -2.0}, {"issue", -1.0},
    {"issues", -1.0}, {"joke", -1.0}, {"kind", 2.0}, {"late", -1.0}, {"lazy", -1.6}, {"like", 1.5},
    {"liked", 1.7}, {"lost", -1.3}, {"lousy", -2.5}, {"love", 3.2}, {"loved", 3.0}, {"lovely", 2.8},
    {"loyal", 2.1}, {"luck", 2.0}, {"lucky", 1.8}, {"mad", -2.2}, {"marvellous", 2.9},
    {"mediocre", -1.2}, {"mess", -1.6}, {"messed", -1.8}, {"miserable", -2.7}, {"misleading", -2.0},
    {"miss", -0.9}, {"missing", -1.2}, {"mistake", -1.6}, {"mistakes", -1.6}, {"neglected", -1.9},
    {"nervous", -1.2}, {"nice", 1.8}, {"nightmare", -2.9}, {"ok", 0.9}, {"okay", 0.9},
    {"optimistic", 1.9}, {"outrageous", -2.8}, {"outstanding", 3.0}, {"overcharged", -2.2},
    {"painful", -2.2}, {"panic", -2.3}, {"pathetic", -2.6}, {"patient", 1.3}, {"perfect", 2.8},
    {"perfectly", 2.7}, {"pleasant", 2.3}, {"pleased", 2.4}, {"pleasure", 2.7}, {"polite", 1.9},
    {"poor", -2.1}, {"positive", 2.0}, {"praise", 2.5}, {"problem", -1.7}, {"problems", -1.7},
    {"professional", 1.8}, {"prompt", 1.3}, {"proud", 2.1}, {"quick", 1.3}, {"quickly", 1.2},
    {"recommend", 1.5}, {"refund", 0.2}, {"rejected", -1.9}, {"reliable", 1.9}, {"relief", 1.9},
    {"relieved", 1.9}, {"resolved", 1.6}, {"respect", 1.9}, {"ridiculous", -2.2}, {"rip", -1.0},
    {"robbed", -2.7}, {"rude", -2.5}, {"sad", -2.1}, {"safe", 1.5}, {"satisfied", 2.0},
    {"scam", -2.9}, {"scared", -1.9}, {"scary", -2.0}, {"seamless", 2.0}, {"secure", 1.4},
    {"shame", -2.0}, {"shocked", -1.8}, {"sick", -2.0}, {"simple", 1.2}, {"slow", -1.4},
    {"smart", 1.7}, {"smooth", 1.6}, {"solved", 1.6}, {"sorry", -0.8}, {"splendid", 2.9},
    {"stolen", -2.6}, {"stress", -1.8}, {"stressful", -1.9}, {"struggle", -1.6}, {"stuck", -1.5},
    {"stupid", -2.4}, {"success", 2.2}, {"successful", 2.3}, {"suck", -2.3}, {"sucks", -2.3},
    {"suffer", -2.2}, {"super", 2.5}, {"superb", 3.0}, {"superior", 2.2}, {"support", 1.0},
    {"supportive", 2.0}, {"surprised", 0.9}, {"terrible", -3.0}, {"terrific", 2.9}, {"thank", 1.5},
    {"thankful", 2.0}, {"thanks", 1.9}, {"thankyou", 2.0}, {"threat", -2.4}, {"tired", -1.6},
    {"tragic", -2.8}, {"transparent", 1.4}, {"trouble", -1.8}, {"trust", 1.9}, {"trusted", 2.0},
    {"ugly", -2.1}, {"unable", -1.3}, {"unacceptable", -2.9}, {"unbelievable", -0.8},
    {"unclear", -1.3}, {"uncomfortable", -1.6}, {"understanding", 1.5}, {"unfair", -2.1},
    {"unfortunately", -1.4}, {"unfriendly", -2.0}, {"unhappy", -2.3}, {"unhelpful", -2.0},
    {"unpleasant", -2.1}, {"unprofessional", -2.2}, {"unreliable", -2.1}, {"unresolved", -1.7},
    {"unsafe", -2.0}, {"unsatisfied", -2.1}, {"unsure", -1.0}, {"upset", -2.0}, {"useful", 1.9},
    {"useless", -2.3}, {"valuable", 2.1}, {"victim", -2.3}, {"waiting", -0.8}, {"warm", 1.2},
    {"waste", -2.2}, {"wasted", -2.2}, {"weak", -1.6}, {"weird", -0.9}, {"welcome", 2.0},
    {"well", 1.1}, {"win", 2.8}, {"wonderful", 2.7}, {"works", 0.6}, {"worried", -1.8},
    {"worry", -1.7}, {"worse", -2.3}, {"worst", -3.1}, {"worthless", -2.6}, {"wrong", -2.1},
    {"wrongly", -2.0}, {"yay", 2.4}
};

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


double tsr_sentiment_valence(const char *word, size_t len) {
  char buf[32];
  if (len == 0 || len >= sizeof buf) return 0;
  memcpy(buf, word, len);
  buf[len] = '\0';
  /* binary search as bsearch with cmp_lex, the first bytes compared
   * before a call of strcmp */
  size_t lo = 0, hi = NLEX;
  const unsigned char c0 = (unsigned char)buf[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *w = lexicon[mid].w;
    int c = (int)c0 - (int)(unsigned char)w[0];
    if (!c) c = strcmp(buf, w);
    if (!c) return lexicon[mid].v;
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return 0;
}

size_t tsr_sentiment_lexicon_size(void) { return NLEX; }

/* strcmp(a, b) == 0, the first bytes compared before the call */
static int same(const char *a, const char *b) { return a[0] == b[0] && !strcmp(a, b); }

static int in_list(const char *w, const char *const *list) {
  for (; *list; list++)
    if (same(w, *list)) return 1;
  return 0;
}

static double booster(const char *w) {
  for (const lex_entry *b = boosters; b->w; b++)
    if (same(w, b->w)) return b->v;
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
        if (nt < MAXTOK && o + 1 < sizeof tok[0]) tok[nt][o++] = (char)tolower(d);
      }
      j++;
    }
    if (nt < MAXTOK) {
      tok[nt][o] = '\0';
      caps[nt] = letters > 1 && up == letters;
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
    if (same(tok[i], "but")) {
      but_at = i;
      break;
    }
  for (size_t i = 0; i < nt; i++) {
    size_t n = strlen(tok[i]);
    double v = tsr_sentiment_valence(tok[i], n);
    if (v == 0) continue;
    /* "would like", "I'd like": wanting, not liking */
    if (same(tok[i], "like") && i > 0 &&
        (same(tok[i - 1], "would") || same(tok[i - 1], "id") || same(tok[i - 1], "wed")))
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
      if (in_list(p, negations) || (pl > 2 && same(p + pl - 2, "nt") && in_list(p, negations)))
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
