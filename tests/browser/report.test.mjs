// report.test.mjs - browser test of the HTML report (issue 5).
// Simulates a demo data set, analyzes it (with and without a holdout) and
// writes the reports, one also from the store (tessera report RUN); opens
// each in headless Chromium (playwright-core) and checks: no console errors,
// no network URL in src/href, every chart canvas has drawn pixels, the KPI
// values shown equal those computed from customers.csv and run.json. Saves
// full-page screenshots under the build folder (TSR_OUT).
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

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsr-report-"));
const run = (args) => execFileSync(TSR, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
run(["simulate", "--customers", "3000", "--seed", "42", "-o", path.join(tmp, "tx.csv")]);
const db = path.join(tmp, "t.db");
run(["analyze", path.join(tmp, "tx.csv"), "--db", db, "-o", path.join(tmp, "out"), "--report", path.join(tmp, "out", "report.html"), "-q"]);
run(["analyze", path.join(tmp, "tx.csv"), "--db", db, "-o", path.join(tmp, "hold"), "--calibration-end", "2025-06-30",
     "--report", path.join(tmp, "hold", "report.html"), "-q"]);
run(["report", "1", "--db", db, "-o", path.join(tmp, "stored.html")]);
// messy input, no model, no clusters: the sections without their inputs are
// left out cleanly and the rejected rows are listed
run(["simulate", "--customers", "800", "--seed", "5", "--messy", "-o", path.join(tmp, "messy.csv")]);
run(["analyze", path.join(tmp, "messy.csv"), "--db", path.join(tmp, "m.db"), "-o", path.join(tmp, "messy"), "--model", "none",
     "--cluster", "none", "--report", path.join(tmp, "messy", "report.html"), "-q"]);

// customers.csv -> KPIs (ids of the simulator carry no commas or quotes)
function kpisFromCsv(file) {
  const lines = fs.readFileSync(file, "utf8").trim().split("\n");
  const head = lines[0].split(",");
  const col = (n) => head.indexOf(n);
  const k = { customers: 0, revenue: 0, transactions: 0, visits: 0 };
  for (const l of lines.slice(1)) {
    const f = l.split(",");
    k.customers++;
    k.revenue += Number(f[col("revenue")]);
    k.transactions += Number(f[col("n_transactions")]);
    k.visits += Number(f[col("active_days")]);
  }
  return k;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tsr-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.TSR_CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1366, height: 900 },
});

async function open(name, file, csvDir, minCharts = 10) {
  const html = fs.readFileSync(file, "utf8");
  check(!/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(html), `${name}: no network URL in src/href`);
  check(!/<link\b|<script[^>]+\bsrc=/i.test(html), `${name}: no external script or stylesheet`);
  console.log(`     ${name}: ${html.length} bytes`);
  const page = await ctx.newPage();
  const errors = [];
  const requests = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  await page.goto("file://" + file);
  await page.waitForSelector("main[data-rendered]", { timeout: 30000 });
  check(errors.length === 0, `${name}: no console errors ${errors.length ? JSON.stringify(errors) : ""}`);
  check(requests.length === 0, `${name}: no network requests ${requests.join(" ")}`);
  const info = await page.evaluate(() => {
    const out = [];
    for (const c of document.querySelectorAll("canvas.tsr-chart")) {
      const g = c.getContext("2d");
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
      out.push({ title: c.getAttribute("aria-label"), w: c.width, h: c.height, painted });
    }
    return { charts: out, rendered: Number(document.querySelector("main").getAttribute("data-rendered")),
             notices: document.querySelectorAll(".tsr-notice").length };
  });
  check(info.charts.length >= minCharts && info.charts.length === info.rendered, `${name}: ${info.charts.length} charts rendered`);
  check(info.notices === 0, `${name}: no 'chart unavailable' notice`);
  for (const c of info.charts)
    check(c.w > 0 && c.h > 0 && c.painted > 500, `${name}: chart '${c.title}' drew pixels (${c.painted})`);
  const kp = await page.evaluate(() => {
    const o = {};
    for (const e of document.querySelectorAll("[data-kpi]"))
      o[e.getAttribute("data-kpi")] = e.querySelector(".tsr-kpi-value").textContent;
    return o;
  });
  const num = (s) => parseFloat(String(s).replace(/,/g, "")); // "1,234.56 EUR" -> 1234.56
  if (csvDir) {
    const k = kpisFromCsv(path.join(csvDir, "customers.csv"));
    const rj = JSON.parse(fs.readFileSync(path.join(csvDir, "run.json"), "utf8")).kpis;
    check(num(kp.customers) === k.customers, `${name}: customers shown ${kp.customers} = customers.csv ${k.customers}`);
    check(num(kp.transactions) === k.transactions, `${name}: purchases shown ${kp.transactions} = customers.csv ${k.transactions}`);
    check(num(kp.visits) === k.visits, `${name}: visits shown ${kp.visits} = customers.csv ${k.visits}`);
    check(Math.abs(num(kp.revenue) - k.revenue) < 0.006, `${name}: revenue shown ${kp.revenue} = customers.csv ${k.revenue.toFixed(2)}`);
    check(kp.churn_rate === (100 * rj.churn_rate).toFixed(1) + "%", `${name}: churn rate shown ${kp.churn_rate} = run.json ${rj.churn_rate}`);
    check(kp.first_purchase === rj.first_purchase && kp.last_purchase === rj.last_purchase, `${name}: first/last purchase ${kp.first_purchase} ${kp.last_purchase}`);
    check(Math.abs(num(kp.clv_total) - rj.clv_total) < 0.006, `${name}: total CLV shown ${kp.clv_total} = run.json ${rj.clv_total}`);
    check(kp.top20_revenue_share === (100 * rj.top20_revenue_share).toFixed(1) + "%", `${name}: top 20% share ${kp.top20_revenue_share}`);
    // the segment table against segments.csv
    const seg = await page.evaluate(() => {
      const o = {};
      for (const td of document.querySelectorAll("td[data-segment]"))
        (o[td.getAttribute("data-segment")] ||= {})[td.getAttribute("data-col")] = td.textContent;
      return o;
    });
    const lines = fs.readFileSync(path.join(csvDir, "segments.csv"), "utf8").trim().split("\n").slice(1);
    let segOk = 0;
    for (const l of lines) {
      const f = l.split(",");
      if (Number(f[1]) === 0) continue;
      const row = seg[f[0]];
      if (row && num(row.customers) === Number(f[1]) && Math.abs(num(row.revenue) - Number(f[6])) < 0.006) segOk++;
      else console.log(`     segment ${f[0]}: shown ${JSON.stringify(row)}, segments.csv ${f[1]} ${f[6]}`);
    }
    check(segOk > 0 && segOk === lines.filter((l) => Number(l.split(",")[1]) > 0).length, `${name}: ${segOk} segment rows equal segments.csv`);
  }
  const shot = path.join(OUT, name + ".png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`     screenshot ${shot}`);
  await page.close();
  return kp;
}

const a = await open("report", path.join(tmp, "out", "report.html"), path.join(tmp, "out"));
await open("report-holdout", path.join(tmp, "hold", "report.html"), path.join(tmp, "hold"));
const s = await open("report-stored", path.join(tmp, "stored.html"), null);
check(s.customers === a.customers && s.revenue === a.revenue && s.clv_total === a.clv_total,
      `stored run report shows the same KPIs (${s.customers}, ${s.revenue})`);
const m = await open("report-messy", path.join(tmp, "messy", "report.html"), null, 5);
check(m.churn_rate === "n/a" && m.clv_total === "n/a", `report-messy: no model: churn ${m.churn_rate}, CLV ${m.clv_total}`);
{
  const page = await ctx.newPage();
  await page.goto("file://" + path.join(tmp, "messy", "report.html"));
  await page.waitForSelector("main[data-rendered]");
  const t = await page.evaluate(() => [...document.querySelectorAll(".tsr-fig-title")].map((e) => e.textContent));
  check(t.includes("First rejected rows") && !t.some((x) => /Cluster|Repeat purchases|alive/.test(x)),
        `report-messy: rejects listed, no model or cluster charts`);
  await page.close();
}
await ctx.close();
fs.rmSync(tmp, { recursive: true, force: true });
fs.rmSync(profile, { recursive: true, force: true });
if (failures) { console.log(`${failures} check(s) failed`); process.exit(1); }
console.log("all checks passed");
