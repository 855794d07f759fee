// report_sections.test.mjs - browser test of the report's sections of
// issues 10, 12, 13 and 15: currency next to every amount (from the data's
// currency column, from --currency, or "amount units"), time in weeks,
// model parameters in words, whole-number histogram bins, the R x F mean
// spend equal to the mean revenue of each cell computed from customers.csv,
// segment profiles equal to segment_profiles.csv, data quality equal to
// run.json, the churn charts (ROC, lift, reliability, importance; from the
// fixture tests/data/report/churn_eval.json and a real churn.csv), the
// offer-policy regret curves and offer mix (tessera offers simulate --json)
// and the experiment page (tessera experiment --json). Also: no console
// error, no network request, every table-header tooltip comes from the
// glossary. Screenshots under TSR_OUT.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const TSR = process.env.TSR_TESSERA;
const OUT = process.env.TSR_OUT;
const SRC = process.env.TSR_SOURCE_DIR;
const require = createRequire(path.join(SRC, "package.json"));
const { chromium } = require("playwright-core");

let failures = 0;
function check(cond, msg) {
  if (cond) console.log("ok   " + msg);
  else { console.log("FAIL " + msg); failures++; }
}
const near = (a, b, rel = 1e-6) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));
const num = (s) => parseFloat(String(s).replace(/,/g, ""));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsr-rsec-"));
const p = (f) => path.join(tmp, f);
const run = (args, opts = {}) => execFileSync(TSR, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
// a bundle: transactions with a currency column (CHF), CRM records, products...
run(["simulate", "--bundle", p("b"), "--customers", "600", "--seed", "3"]);
const db = p("t.db");
run(["analyze", p("b"), "--db", db, "-o", p("out"), "--report", p("out/report.html"), "-q"]);
run(["churn", p("b"), "--calibration-end", "2025-06-30", "-o", p("out/churn.csv")]);
fs.copyFileSync(path.join(SRC, "tests/data/report/churn_eval.json"), p("out/churn_eval.json"));
run(["recommend", p("b"), "--calibration-end", "2025-06-30", "-o", p("out/nbp.csv")]);
run(["offers", "simulate", "--policy", "all", "--steps", "3000", "--json", p("offers.json")]);
fs.writeFileSync(p("exp.json"), run(["experiment", p("b/campaign.csv"), "--json"]));
run(["report", "latest", "--db", db, "-o", p("rep.html"), "--offers-sim", p("offers.json"), "--experiment", p("exp.json")]);
// a plain log: --currency EUR, and no currency at all
run(["simulate", "--customers", "800", "--seed", "11", "-o", p("tx.csv")]);
run(["analyze", p("tx.csv"), "--no-db", "-o", p("eur"), "--currency", "EUR", "--report", p("eur.html"), "-q"]);
run(["analyze", p("tx.csv"), "--no-db", "-o", p("none"), "--report", p("none.html"), "-q"]);

function csv(file) {
  // the files read here quote only fields without commas inside quotes
  // except segment names, which this splitter handles
  const lines = fs.readFileSync(file, "utf8").trim().split("\n");
  const split = (l) => { const out = []; let cur = "", q = false;
    for (const ch of l) { if (ch === '"') q = !q; else if (ch === "," && !q) { out.push(cur); cur = ""; } else cur += ch; }
    out.push(cur); return out; };
  const head = split(lines[0]);
  return lines.slice(1).map((l) => { const f = split(l), o = {}; head.forEach((h, i) => { o[h] = f[i]; }); return o; });
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tsr-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.TSR_CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1366, height: 900 },
});

async function open(name, file) {
  const page = await ctx.newPage();
  const errors = [], requests = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  await page.goto("file://" + file);
  await page.waitForSelector("main[data-rendered]", { timeout: 30000 });
  check(errors.length === 0, `${name}: no console errors ${errors.length ? JSON.stringify(errors) : ""}`);
  check(requests.length === 0, `${name}: no network requests ${requests.join(" ")}`);
  return page;
}
const kpi = (page, k) => page.evaluate((k) => {
  const e = document.querySelector(`[data-kpi="${k}"]`);
  return e ? { value: e.querySelector(".tsr-kpi-value").textContent, label: e.querySelector(".tsr-kpi-label").textContent } : null;
}, k);

// ------------------------------------------------------------ the bundle report
const page = await open("report-sections", p("rep.html"));
const rj = JSON.parse(fs.readFileSync(p("out/run.json"), "utf8"));
check(rj.kpis.currency === "CHF" && rj.kpis.currency_source === "column", `run.json: currency ${rj.kpis.currency} from the ${rj.kpis.currency_source}`);
for (const k of ["revenue", "clv_total", "clv_mean"]) {
  const v = await kpi(page, k);
  check(v && / CHF$/.test(v.value) && Math.abs(num(v.value) - rj.kpis[k]) < 0.006, `KPI ${k}: '${v && v.value}' carries CHF and equals run.json ${rj.kpis[k]}`);
}
// the stored run's report counts the analysed customers only (not the
// bundle's profile-only CRM records): same customers, Pareto share, months
{
  const c = await kpi(page, "customers"), t20 = await kpi(page, "top20_revenue_share");
  const cap = await page.evaluate(() => [...document.querySelectorAll(".tsr-caption")].map((e) => e.textContent).find((t) => /^Top 20% of customers bring/.test(t)));
  const months = await page.evaluate(() => {
    for (const cv of document.querySelectorAll("canvas.tsr-chart"))
      if (/^Joins and leavers/.test(cv.getAttribute("aria-label"))) return window.Chart.getChart(cv).data.labels;
    return [];
  });
  check(num(c.value) === rj.kpis.customers, `stored report: ${c.value} customers = run.json ${rj.kpis.customers}`);
  check(cap && cap.includes(t20.value), `Pareto caption '${cap}' agrees with the KPI ${t20.value}`);
  check(months[0] === rj.kpis.first_purchase.slice(0, 7), `joins start in the first purchase month (${months[0]})`);
}
const heads = await page.evaluate(() => [...document.querySelectorAll("th")].map((t) => ({ t: t.textContent, tip: t.getAttribute("title") })));
check(heads.some((h) => h.t === "mean CLV (CHF)") && heads.some((h) => h.t === "CLV (CHF)"), "CLV columns say CHF");
check(heads.filter((h) => h.tip !== null).every((h) => h.tip.length > 20), `every header tooltip has a glossary text (${heads.filter((h) => h.tip).length})`);
const run_rows = await page.evaluate(() => [...document.querySelectorAll("#tsr-run td")].map((t) => t.textContent));
check(run_rows.includes("week (7 days)") && run_rows.some((t) => /^CHF \(from the data's currency column\)$/.test(t)), "run table: time unit week, currency CHF from the column");
// model parameters in words, time in weeks
const words = await page.evaluate(() => [...document.querySelectorAll("#tsr-models td.tsr-wrap")].map((t) => t.textContent));
check(words.length >= 7 && words.every((w) => w.length > 20), `every model parameter explained in words (${words.length})`);
check(words.some((w) => /purchase rate varies (strongly|moderately)|purchase rate is similar/.test(w)) && words.some((w) => /times per week/.test(w)),
  `parameter words: rate spread and 'times per week' (${words[0]} | ${words[1]})`);
check(words.some((w) => /CHF/.test(w)), "the spend model's words carry the currency");
const srh = await page.evaluate(() => [...document.querySelectorAll("#tsr-models table.tsr-sr-only thead th")].map((t) => t.textContent)[0]);
check(/recency \(weeks\)/.test(srh || ""), `frequency/recency matrix axis in weeks ('${srh}')`);
// whole-number bins of the counts
const bins = await page.evaluate(() => {
  const o = {};
  for (const c of document.querySelectorAll("canvas.tsr-chart")) {
    const t = c.getAttribute("aria-label");
    if (/^Distribution of (frequency|purchases)/.test(t)) o[t] = window.Chart.getChart(c).data.labels;
  }
  return o;
});
check(Object.keys(bins).length === 2, `two count histograms (${Object.keys(bins).join("; ")})`);
for (const [t, labels] of Object.entries(bins)) {
  let ok = labels.length > 0, prev = null;
  for (const l of labels) {
    const m = /^(\d+)(?:–(\d+))?$/.exec(l);
    if (!m) { ok = false; break; }
    const lo = Number(m[1]), hi = m[2] ? Number(m[2]) : lo;
    if (hi < lo || (prev !== null && lo !== prev + 1)) { ok = false; break; }
    prev = hi;
  }
  check(ok, `${t}: whole-number, contiguous bins (${labels.slice(0, 6).join(", ")}...)`);
}
// R x F mean spend = mean revenue of the cell's customers (customers.csv)
const cust = csv(p("out/customers.csv"));
const cells = {};
for (const c of cust) {
  const k = c.r_score + "," + c.f_score;
  (cells[k] ||= { n: 0, s: 0 }).n++;
  cells[k].s += Number(c.revenue);
}
const shown = await page.evaluate(() => [...document.querySelectorAll("table.tsr-rf-spend td[data-value]")]
  .filter((t) => t.getAttribute("data-value") !== "").map((t) => [t.getAttribute("data-row"), t.getAttribute("data-col"), Number(t.getAttribute("data-value"))]));
let cellOk = 0;
for (const [r, f, v] of shown) {
  const c = cells[r + "," + f];
  if (c && near(v, c.s / c.n, 1e-9)) cellOk++;
  else console.log(`     R ${r} F ${f}: shown ${v}, customers.csv ${c ? c.s / c.n : "none"}`);
}
check(shown.length > 5 && cellOk === shown.length && cellOk === Object.keys(cells).filter((k) => !k.includes("0")).length,
  `R×F mean spend: ${cellOk} of ${shown.length} cells equal the mean revenue from customers.csv`);
const rfTitle = await page.evaluate(() => [...document.querySelectorAll("#tsr-rfm .tsr-fig-title")].map((t) => t.textContent));
check(rfTitle.some((t) => /Mean spend per customer.*\(CHF\)/.test(t)), `R×F heatmap titled mean spend in CHF (${rfTitle.join(" | ")})`);
// segment profiles = segment_profiles.csv
const sp = csv(p("out/segment_profiles.csv"));
const spShown = await page.evaluate(() => {
  const o = {};
  for (const td of document.querySelectorAll("td[data-kind]")) o[td.getAttribute("data-kind") + "|" + td.getAttribute("data-segment") + "|" + td.getAttribute("data-col")] = td.textContent;
  return o;
});
let spOk = 0;
for (const r of sp) {
  const key = r.kind + "|" + r.segment + "|";
  if (num(spShown[key + "customers"]) === Number(r.customers) && Math.abs(num(spShown[key + "revenue"]) - Number(r.revenue)) < 0.006) spOk++;
  else console.log(`     ${key}: shown ${spShown[key + "customers"]} ${spShown[key + "revenue"]}, csv ${r.customers} ${r.revenue}`);
}
check(sp.length > 5 && spOk === sp.length, `segment profiles: ${spOk} of ${sp.length} rows equal segment_profiles.csv`);
// data quality = run.json
const dq = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("td[data-dq]")].map((t) => [t.getAttribute("data-dq"), t.textContent])));
check(num(dq["records merged into another record (same person)"]) === rj.data_quality.records_merged &&
      num(dq["households of two or more persons"]) === rj.data_quality.households &&
      num(dq["transactions flagged as anomalies"]) === rj.data_quality.anomalies_flagged,
      `data quality equals run.json (merged ${rj.data_quality.records_merged}, households ${rj.data_quality.households}, anomalies ${rj.data_quality.anomalies_flagged})`);
// churn: metrics side by side, the four charts
const ev = JSON.parse(fs.readFileSync(path.join(SRC, "tests/data/report/churn_eval.json"), "utf8"));
const auc = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("td[data-method][data-col=auc]")].map((t) => [t.getAttribute("data-method"), t.textContent])));
check(Object.keys(ev.methods).every((m) => Math.abs(num(auc[m]) - ev.methods[m].auc) < 0.0006), `churn AUC of each method shown: ${JSON.stringify(auc)}`);
const svg = await page.evaluate(() => {
  const f = (c) => document.querySelector("figure." + c);
  const n = (c, sel) => (f(c) ? f(c).querySelectorAll(sel).length : -1);
  return { roc: n("tsr-churn-roc", "path.tsr-series"), lift: n("tsr-churn-lift", "path.tsr-series"), rel: n("tsr-churn-reliability", "circle"),
           imp: n("tsr-churn-importance", "rect"), regret: n("tsr-offers-regret", "path.tsr-series"),
           count: Number(document.querySelector("main").getAttribute("data-svg-charts")) };
});
check(svg.roc === 3 && svg.lift === 3, `ROC and lift: one curve per method (${svg.roc}, ${svg.lift})`);
check(svg.rel === ev.reliability.filter((b) => b.n > 0).length, `reliability: one point per non-empty bin (${svg.rel})`);
check(svg.imp === Math.min(15, Object.keys(ev.importance).length), `importance: one bar per feature (${svg.imp})`);
const top = await page.evaluate(() => [...document.querySelectorAll("#tsr-churn tbody tr")].map((r) => [...r.children].map((c) => c.textContent)).filter((r) => r.length === 5));
const churnCsv = csv(p("out/churn.csv")).sort((a, b) => b.churn_probability - a.churn_probability);
check(top.length === 20 && top[0][0] === churnCsv[0].customer_id && top[0][2] === churnCsv[0].reason_1,
  `highest churn risk first with its reasons (${top[0] && top[0].join(" | ")})`);
// next best product: customers per first-ranked product = nbp.csv
{
  const firsts = csv(p("out/nbp.csv")).filter((r) => r.rank === "1");
  const want = {};
  for (const r of firsts) want[r.product] = (want[r.product] || 0) + 1;
  const shownNbp = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("td[data-product][data-col=customers]")].map((t) => [t.getAttribute("data-product"), t.textContent])));
  check(Object.keys(want).length > 0 && Object.keys(want).every((k) => num(shownNbp[k]) === want[k]) && Object.keys(shownNbp).length === Object.keys(want).length,
    `next best product: customers per first-ranked product equal nbp.csv (${JSON.stringify(shownNbp)})`);
}
// offers: one regret curve per policy, regret in the table = the JSON
const offers = JSON.parse(fs.readFileSync(p("offers.json"), "utf8"));
check(svg.regret === offers.policies.length, `regret curves: ${svg.regret} of ${offers.policies.length} policies`);
const reg = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("td[data-policy][data-col=regret]")].map((t) => [t.getAttribute("data-policy"), t.textContent])));
check(offers.policies.every((q) => near(num(reg[q.policy]), q.regret, 0.005)), `regret per policy shown: ${JSON.stringify(reg)}`);
const mix = await page.evaluate(() => document.querySelectorAll("td.tsr-mix").length);
check(mix === offers.policies.length * offers.segments * offers.offers, `offer mix: ${mix} cells (policies × segments × offers)`);
// experiment: the p-value and the group rates of the JSON
const exp = JSON.parse(fs.readFileSync(p("exp.json"), "utf8")).experiments;
const pv = await page.evaluate(() => [...document.querySelectorAll("td[data-col=p]")].map((t) => [t.getAttribute("data-campaign"), t.textContent]));
const wantP = exp.flatMap((e) => e.comparisons.map((c) => [e.campaign, c.test ? (c.test.p_value < 0.0001 ? "< 0.0001" : c.test.p_value.toFixed(4)) : "n/a"]));
check(pv.length === wantP.length && pv.every((x, i) => x[0] === wantP[i][0] && x[1] === wantP[i][1]), `experiment p-values shown: ${JSON.stringify(pv)}`);
const nav = await page.evaluate(() => [...document.querySelectorAll(".tsr-nav a")].map((a) => a.textContent));
check(["Profiles", "Data quality", "Churn", "Offers", "Experiments"].every((s) => nav.includes(s)), `navigation: ${nav.join(", ")}`);
// a diagnostic only: a 20,000-pixel page may be slow to capture on a loaded machine
await page.screenshot({ path: path.join(OUT, "report-sections.png"), fullPage: true, timeout: 120000 })
  .catch((e) => console.log("     screenshot skipped: " + String(e).split("\n")[0]));
await page.close();

// ------------------------------------------------------------ --currency EUR, and none
{
  const pe = await open("report-eur", p("eur.html"));
  const v = await kpi(pe, "clv_total");
  check(v && / EUR$/.test(v.value) && v.label === "Total CLV", `--currency EUR: total CLV '${v && v.value}' (${v && v.label})`);
  const nav2 = await pe.evaluate(() => [...document.querySelectorAll(".tsr-nav a")].map((a) => a.textContent));
  check(!nav2.includes("Churn") && !nav2.includes("Offers") && !nav2.includes("Profiles"), `no profile, churn or offers link without their data (${nav2.join(", ")})`);
  const sect = await pe.evaluate(() => ["profiles", "quality", "churn", "offers", "experiment"].filter((s) => document.getElementById("tsr-" + s)));
  check(sect.length === 0, `no empty panels without the data (${sect.join(", ")})`);
  await pe.close();
  const pn = await open("report-none", p("none.html"));
  const w = await kpi(pn, "clv_total");
  check(w && !/[A-Z]{3}$/.test(w.value) && w.label === "Total CLV (amount units)", `no currency: '${w && w.value}' labelled '${w && w.label}'`);
  await pn.close();
}

// ------------------------------------------------------------ bad inputs of tessera report
function fails(args, re, what) {
  try { run(args); check(false, what + ": expected a failure"); }
  catch (e) { const m = String(e.stderr); check(re.test(m), `${what}: ${m.trim()}`); }
}
fs.writeFileSync(p("bad.json"), '{"format": "tessera-offers-sim",\n  "policies": [1, }');
fails(["report", "latest", "--db", db, "-o", p("x.html"), "--offers-sim", p("bad.json")], /bad\.json:2:\d+/, "malformed --offers-sim names file:line:column");
fails(["report", "latest", "--db", db, "-o", p("x.html"), "--experiment", p("offers.json")], /expected the JSON of 'tessera experiment --json'/, "--experiment with another JSON");
fails(["report", "latest", "--db", db, "-o", p("x.html"), "--currency", "euro"], /--currency: expected a three-letter ISO 4217 code/, "--currency euro");
fails(["analyze", p("tx.csv"), "--no-db", "-o", p("y"), "--currency", "E1R"], /--currency: expected a three-letter ISO 4217 code/, "analyze --currency E1R");

await ctx.close();
fs.rmSync(tmp, { recursive: true, force: true });
fs.rmSync(profile, { recursive: true, force: true });
if (failures) { console.log(`${failures} check(s) failed`); process.exit(1); }
console.log("all checks passed");
