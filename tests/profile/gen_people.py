#!/usr/bin/env python3
"""Small generator of CRM customer records with known truth, for the tests
and benchmarks of `tessera resolve`, `tessera anomalies` and `tessera
sentiment` (until `tessera simulate --bundle` provides the same).

usage: gen_people.py customers N OUT.csv TRUTH.csv [SEED]
       gen_people.py transactions N_CUSTOMERS OUT.csv TRUTH.csv [SEED]
       gen_people.py interactions N OUT.csv TRUTH.csv [SEED]

customers: N persons in households (1-4 persons sharing surname, address,
postcode, sometimes a landline); about 5 % of persons get a second CRM
record (10 % of those a third) after a move, a new e-mail, a typo in the
name, a missing phone, rarely a birth-date typo; names in mixed case with
accents, phones in mixed national/international formats. TRUTH:
customer_id,person_id,household_id.

transactions: per customer a habitual hour, amount level, 2-3 merchant
categories and 1-2 channels; 1 % of rows are injected anomalies (amount
spike, odd hour, new merchant category, new channel, burst). TRUTH:
transaction_id,anomaly (0/1),kind.

interactions: messages built from templates with a known sentiment
(negative, neutral, positive), some with negation or intensifiers. TRUTH:
interaction_id,label.
"""
import random
import sys

FIRST_F = ("Anna Maria Emma Sophie Laura Julia Sarah Hannah Lena Lea Clara Zoë Chloé Amélie Léa "
           "Inès Lucía María Sofía Valentina Isabel Olivia Emily Jessica Charlotte Amelia Grace "
           "Ruby Ella Mia Isla Freya Poppy Ava Lily Evie Sienna Alice Florence Matilda Rosie "
           "Ingrid Astrid Björk Siobhán Aoife Niamh Małgorzata Agnieszka Katarzyna Zsófia Eszter "
           "Ayşe Elif Fatma Priya Ananya Mei Yuki Aiko Fatima Amira Nadia Elena Irina Olga").split()
FIRST_M = ("Thomas Michael Andreas Stefan Peter Jürgen Jörg Günter Klaus Lukas Jonas Felix Paul "
           "Leon Noah Elias Louis Hugo Théo Jules Raphaël José Jesús Javier Álvaro Pablo Diego "
           "Oliver George Harry Jack Jacob Charlie Oscar William James Henry Arthur Freddie "
           "Alfie Theo Archie Joshua Samuel Daniel Joseph Søren Lars Björn Seán Ciarán Oisín "
           "Łukasz Paweł Krzysztof Tomasz János Zoltán Mehmet Ahmet Mustafa Arjun Rahul Wei "
           "Hiroshi Kenji Omar Yusuf Ali Ivan Dmitri Sergei").split()
SURNAMES = ("Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
            "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel "
            "Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker "
            "Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young "
            "Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
            "Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson "
            "Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews "
            "Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens "
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
            "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
            "Hofmann Hartmann Lange Schmitt Werner Krause Köhler Lehmann Maier Köster Jäger "
            "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Díaz "
            "Dubois Lefèvre Lefebvre Moreau Girard Bonnet François Mercier Rousseau Fontaine "
            "O'Brien O'Connor O'Sullivan McCarthy Ó Súilleabháin Nowak Kowalski Wiśniewski "
            "Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Dąbrowski Nagy Kovács "
            "Tóth Szabó Horváth Yılmaz Kaya Demir Şahin Çelik Öztürk Nguyen Tran Pham Kim Park "
            "Tanaka Suzuki Watanabe Ivanov Petrov Sokolov Andersson Johansson Karlsson Nielsen "
            "Jensen Hansen Pedersen Larsen Van der Berg De Vries Jansen Bakker Visser").split()
SYL_A = ("Ash Black Brad Brook Cald Carr Chad Dal Dun East Fair Farn Hart Hay Hol Kings Lang Lock "
         "Mar Mor North Oak Pen Ray Red Roth Rush Sand Stan Stock Thorn Tre Wal War Wes Whit Wig "
         "Win Wolf Ber Eich Feld Gold Gros Hoch Kal Lind Rosen Schw Stein Stern Tann Weiss").split()
SYL_B = ("by ford ley ton well wood worth field ham hurst combe dale gate more stead wick shaw bury "
         "bridge thorpe mann berg feld stein hofer bach er inger ling mayer").split()
STREETS = ("High Station Church Park Victoria Green Manor Mill School Queen King New Grange Kings "
           "Albert London Springfield Windsor Highfield Chestnut Meadow Orchard Cedar Elm Oak "
           "Willow Beech Ash Hill Bridge Castle Abbey Market North South West East Garden "
           "Haupt Bahnhof Schul Garten Berg Kirch Linden Dorf Wald Ring").split()
SUFFIX = ["Street", "Road", "Avenue", "Lane", "Drive", "Close", "Way", "Place", "Court", "Gardens"]
CITIES = ("London Manchester Birmingham Leeds Glasgow Liverpool Bristol Sheffield Edinburgh Cardiff "
          "Leicester Nottingham Newcastle Brighton Oxford Cambridge York Bath Norwich Exeter").split()
DOMAINS = ["gmail.com", "yahoo.co.uk", "outlook.com", "hotmail.co.uk", "icloud.com", "btinternet.com",
           "web.de", "gmx.de", "proton.me"]
PRODUCTS = ["current_account", "savings", "credit_card", "mortgage", "personal_loan", "isa",
            "pension", "insurance", "investment"]
CHANNELS = ["branch", "web", "mobile", "phone"]


def ascii_fold(s):
    rep = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
    out = []
    import unicodedata
    for ch in s:
        if ch in rep:
            out.append(rep[ch])
            continue
        d = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in d if not unicodedata.combining(c)))
    return "".join(out)


def typo(rng, w):
    if len(w) < 3:
        return w + rng.choice("aeinrs")
    k = rng.randrange(5)
    i = rng.randrange(1, len(w) - 1)
    if k == 0:   # deletion
        return w[:i] + w[i + 1:]
    if k == 1:   # transposition
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    if k == 2:   # substitution
        return w[:i] + rng.choice("aeiounrstl") + w[i + 1:]
    if k == 3:   # insertion
        return w[:i] + rng.choice("aeiounrstl") + w[i:]
    f = ascii_fold(w)  # accents dropped
    return f if f != w else w[:i] + w[i] + w[i:]


def fmt_phone(rng, national):
    """national: '7700900123' (no leading 0)"""
    k = rng.randrange(4)
    if k == 0:
        return "0" + national[:4] + " " + national[4:]
    if k == 1:
        return "+44 " + national[:4] + " " + national[4:]
    if k == 2:
        return "+44" + national
    return "(0" + national[:4] + ") " + national[4:7] + "-" + national[7:]


def postcode(rng):
    L = "ABCDEFGHJKLMNPRSTUWYZ"
    return (rng.choice(L) + rng.choice(L) + str(rng.randrange(1, 30)) + " " +
            str(rng.randrange(10)) + rng.choice(L) + rng.choice(L))


def pick_weighted(rng, lst, skew=1.4):
    # Zipf-like: earlier names are more common (the first of 70 ~ 5 %)
    i = int(len(lst) * (rng.random() ** skew))
    return lst[min(i, len(lst) - 1)]


USED_EMAILS = set()


def unique_email(rng, em):
    """An e-mail address belongs to one person: add digits until unused."""
    while em in USED_EMAILS:
        local, dom = em.split("@")
        em = "%s%d@%s" % (local, rng.randrange(10), dom)
    USED_EMAILS.add(em)
    return em


def customers(n, out, truth, seed):
    rng = random.Random(seed)
    surnames = SURNAMES + [a + b for a in SYL_A for b in SYL_B]
    rng.shuffle(surnames)
    rows = []  # (person, household, fields...)
    person = 0
    hh = 0
    while person < n:
        size = rng.choices([1, 2, 3, 4], [55, 28, 11, 6])[0]
        size = min(size, n - person)
        sur = pick_weighted(rng, surnames)
        addr = "%d %s %s" % (rng.randrange(1, 250), rng.choice(STREETS), rng.choice(SUFFIX))
        pc = postcode(rng)
        city = rng.choice(CITIES)
        landline = "1632" + "%06d" % rng.randrange(10 ** 6) if rng.random() < 0.5 else None
        used_first = set()
        base_year = rng.randrange(1940, 2004)
        for k in range(size):
            g = rng.choice("FM")
            while True:
                fn = pick_weighted(rng, FIRST_F if g == "F" else FIRST_M)
                if fn not in used_first:
                    break
            used_first.add(fn)
            if k < 2:
                y = base_year + rng.randrange(-3, 4)
            else:
                y = min(base_year + rng.randrange(20, 35), 2006)
            dob = "%04d-%02d-%02d" % (y, rng.randrange(1, 13), rng.randrange(1, 29))
            if rng.random() < 0.01 and k == 1:
                dob = rows[-1][6]  # twins: same birth date, another first name
            mobile = "7" + "%09d" % rng.randrange(10 ** 9)
            ph = mobile if (landline is None or rng.random() < 0.6) else landline
            em = unique_email(rng, "%s.%s%s@%s" % (
                ascii_fold(fn).lower(), ascii_fold(sur).lower().replace(" ", "").replace("'", ""),
                rng.choice(["", "", str(rng.randrange(100))]), rng.choice(DOMAINS)))
            if rng.random() < 0.05:
                em = ""
            jy = min(max(y + 18, 1990), 2019)
            join = "%04d-%02d-%02d" % (rng.randrange(jy, 2021), rng.randrange(1, 13), rng.randrange(1, 29))
            prods = ";".join(sorted(rng.sample(PRODUCTS, rng.randrange(1, 4))))
            rows.append([person, hh, fn, sur, em, ph, dob, g, addr, pc, city, join, prods, mobile])
            person += 1
        hh += 1
    recs = []
    for r in rows:
        p, h, fn, sur, em, ph, dob, g, addr, pc, city, join, prods, mobile = r
        recs.append((p, h, fn + " " + sur, em, fmt_phone(rng, ph) if ph else "", dob, g, addr, pc, city, join, prods))
        if rng.random() < 0.05:
            ndup = 2 if rng.random() < 0.1 else 1
            for d in range(ndup):
                f2, s2, em2, ph2, dob2 = fn, sur, em, ph, dob
                addr2, pc2, city2 = addr, pc, city
                if rng.random() < 0.35:
                    addr2 = "%d %s %s" % (rng.randrange(1, 250), rng.choice(STREETS), rng.choice(SUFFIX))
                    pc2 = postcode(rng)
                    city2 = rng.choice(CITIES)
                    if ph2 != mobile:
                        ph2 = mobile
                if rng.random() < 0.3:
                    em2 = unique_email(rng, "%s%d@%s" % (
                        ascii_fold(fn).lower()[0] + ascii_fold(sur).lower().replace(" ", "").replace("'", ""),
                        rng.randrange(1000), rng.choice(DOMAINS)))
                if rng.random() < 0.3:
                    if rng.random() < 0.5:
                        f2 = typo(rng, fn)
                    else:
                        s2 = typo(rng, sur)
                if rng.random() < 0.25:
                    ph2 = None
                if rng.random() < 0.08:
                    em2 = ""
                if rng.random() < 0.03:
                    y, m, dd = dob.split("-")
                    if int(dd) <= 12 and rng.random() < 0.5:
                        dob2 = "%s-%s-%s" % (y, dd, m)  # day and month swapped
                    else:  # one wrong digit in the day
                        dob2 = "%s-%s-%s%d" % (y, m, dd[0], (int(dd[1]) + 1 + rng.randrange(8)) % 10)
                        if dob2.endswith("-00") or dob2[-2:] > "28":
                            dob2 = "%s-%s-%s" % (y, m, "1" + dd[1])
                name2 = f2 + " " + s2
                if rng.random() < 0.15:
                    name2 = name2.upper()
                if em2 and rng.random() < 0.1:
                    em2 = em2.upper()
                jy, jm, jd = join.split("-")
                join2 = "%04d-%s-%s" % (min(int(jy) + rng.randrange(1, 6), 2024), jm, jd)
                prods2 = ";".join(sorted(rng.sample(PRODUCTS, rng.randrange(1, 3))))
                recs.append((p, h, name2, em2, fmt_phone(rng, ph2) if ph2 else "", dob2, g, addr2, pc2, city2,
                             join2, prods2))
    rng.shuffle(recs)
    with open(out, "w", encoding="utf-8") as f, open(truth, "w") as t:
        f.write("customer_id,name,email,phone,birth_date,gender,address,postcode,city,income_band,"
                "join_date,products_held,channel_preference,risk_score\n")
        t.write("customer_id,person_id,household_id\n")
        for i, r in enumerate(recs):
            cid = "C%07d" % (i + 1)
            p, h, name, em, ph, dob, g, addr, pc, city, join, prods = r
            name = '"%s"' % name if "," in name else name
            f.write("%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d\n" % (
                cid, name, em, ph, dob, g, addr, pc, city, rng.choice(["low", "middle", "high"]), join,
                prods, rng.choice(CHANNELS), rng.randrange(101)))
            t.write("%s,P%d,H%d\n" % (cid, p, h))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    kind, n, out, truth = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    {"customers": customers}[kind](n, out, truth, seed)


if __name__ == "__main__":
    main()
