// Browser test of the web application (issue 6): log in, upload the demo
// file, map columns, see an inline error, run, watch the job, see the
// dashboard charts render with the KPIs of the API, open a segment and a
// customer, open the help and the event log. No console errors allowed
// (a CSP violation is one). Run by tests/browser/run_web.sh.
// Issue 10/12/13/15 views: a first-time user is led to the upload; inputs in
// words with the advanced ones folded; lookup at the top; the model fits as
// a table; every table fits its width; CLV on its own axis; x labels never
// overlap; units on a customer's values; customers at risk; the run
// comparison as a flow diagram with the counts of its table; a bundle run's
// segment profiles and customer page (churn risk, next best products,
// household map); the message preview; changing one's password.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const url = process.env.TSR_URL;
const shots = process.env.TSR_SHOTS;
const errors = [];
const ctx = await chromium.launchPersistentContext(process.env.TSR_PROFILE, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
const page = ctx.pages()[0] || await ctx.newPage();
page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', e => errors.push(String(e)));
page.setDefaultTimeout(60000);
let step = 'start';
const ok = s => { step = s; console.log('ok   ' + s); };

try {
  await page.goto(url + '/runs');
  assert.match(page.url(), /\/login\?next=/);
  await page.fill('#name', process.env.TSR_USER);
  await page.fill('#password', 'wrong-password');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.alert'), /wrong user name or password/i);
  ok('wrong password shows a plain message');
  errors.length = 0; /* the browser logs the 401 of the failed login itself */
  await page.fill('#name', process.env.TSR_USER);
  await page.fill('#password', process.env.TSR_PASS);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/runs$/);
  ok('log in');
  await page.goto(url + '/');
  await page.waitForURL(/\/datasets$/);
  assert.ok(await page.locator('#welcome').isVisible());
  assert.match(await page.textContent('#upload-form'), /Largest file: [\d.]+ (kB|MB|GB)/);
  ok('a first-time user is led to the upload (welcome, limit in human units)');

  await page.goto(url + '/datasets');
  await page.setInputFiles('#file', process.env.TSR_TX);
  await Promise.all([page.waitForURL(/\/datasets\/\d+$/), page.click('#upload-form button[type=submit]')]);
  assert.equal(await page.locator('#preview tbody tr').count(), 20);
  await page.screenshot({ path: shots + '/dataset.png', fullPage: true });
  ok('upload shows a preview of 20 rows');

  assert.match(await page.textContent('label[for="p-customer_col"]'), /^Customer column/);
  assert.match(await page.textContent('label[for="p-freq_multiplier"]'), /^Days per time unit/);
  assert.ok(await page.locator('#p-horizon').isVisible(), 'the horizon is a basic input');
  assert.ok(!(await page.locator('#p-model').isVisible()), 'advanced inputs are folded away');
  await page.click('#advanced > summary');
  assert.ok(await page.locator('#p-model').isVisible());
  ok('inputs labelled in words, advanced ones folded away');
  await page.selectOption('#p-customer_col', 'customer_id');
  await page.selectOption('#p-date_col', 'timestamp');
  await page.selectOption('#p-amount_col', 'amount');
  await page.fill('#p-horizon', '-5');
  await page.click('#start');
  const msg = await page.textContent('#f-horizon .error-msg');
  assert.match(msg, /above 0 up to 1000/);
  assert.match(page.url(), /\/datasets\/\d+$/);
  ok('inline error for an out-of-range horizon: ' + msg);
  await page.fill('#p-horizon', '12');
  await page.locator('#p-horizon').blur();
  assert.equal(await page.textContent('#f-horizon .error-msg'), '');
  await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('#start')]);
  await page.waitForSelector('#job[data-finished]');
  assert.equal(await page.getAttribute('#job', 'data-finished'), 'done');
  await page.screenshot({ path: shots + '/job.png' });
  ok('job runs to done with progress');

  await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('#run-link')]);
  await page.waitForSelector('#charts[data-rendered="1"]');
  const plots = await page.locator('.plot').count();
  assert.ok(plots >= 6, 'six charts');
  for (let i = 0; i < plots; i++) {
    const n = await page.locator('.plot').nth(i).locator('svg rect, svg circle').count();
    assert.ok(n > 0, 'chart ' + i + ' has marks');
  }
  const runId = page.url().match(/\/runs\/(\d+)/)[1];
  const res = await page.evaluate(async id => (await fetch('/api/v1/runs/' + id + '/results')).json(), runId);
  const shown = (await page.textContent('#kpi-customers .value')).replace(/,/g, '');
  assert.equal(Number(shown), res.kpis.customers);
  const purchases = (await page.textContent('#kpi-purchases .value')).replace(/,/g, '');
  assert.equal(Number(purchases), res.kpis.transactions);
  await page.waitForSelector('#report[data-report-rendered="1"]');
  const reportCharts = Number(await page.getAttribute('#report', 'data-rendered'));
  assert.ok(reportCharts >= 5, 'the report drew ' + reportCharts + ' charts');
  const canvases = await page.locator('#report canvas').count();
  assert.ok(canvases >= 5, 'report canvases: ' + canvases);
  await page.screenshot({ path: shots + '/dashboard.png', fullPage: true });
  ok('dashboard: ' + plots + ' charts and ' + reportCharts + ' report charts rendered, KPIs equal the API');
  await checkDashboard(page, res);

  await Promise.all([page.waitForURL(/\/segments\//), page.locator('#segments tbody a').first().click()]);
  assert.ok(await page.locator('#customers tbody tr').count() > 0);
  const href = await page.getAttribute('#csv-export', 'href');
  assert.match(href, /customers\.csv\?segment=/);
  await Promise.all([page.waitForURL(/\/customers\//), page.locator('#customers tbody a').first().click()]);
  await page.waitForSelector('#chart-history[data-rendered="1"]');
  assert.ok(await page.locator('#chart-history svg rect').count() > 0);
  await page.screenshot({ path: shots + '/customer.png', fullPage: true });
  ok('segment page and customer page with history chart');
  assert.match(await page.textContent('#kpi-recency'), /weeks/);
  assert.match(await page.textContent('#kpi-revenue'), /currency/);
  await noOverlap(page, '#chart-history');
  ok('customer values carry units; the date labels do not overlap');
  await page.selectOption('#msg-channel', 'sms');
  await page.fill('#msg-offer', 'the <b>gold</b> card');
  await page.click('#msg-preview-btn');
  await page.waitForSelector('#msg-preview[data-rendered="1"]');
  const msgText = await page.textContent('#msg-preview .msg-out');
  assert.match(msgText, /the <b>gold<\/b> card/, 'the offer name shown as text, not markup');
  assert.equal(await page.locator('#msg-preview b').count(), 0);
  assert.match(await page.textContent('#msg-preview'), /\d+ of 160 characters/);
  ok('message preview for a customer: ' + msgText);

  await compareRuns(page, runId);
  await bundleViews(page);

  await page.goto(url + '/help');
  assert.ok(await page.locator('#params tbody tr').count() >= 20);
  assert.match(await page.textContent('#param-horizon'), /\(0, 1000\]/);
  assert.match(await page.textContent('#glossary'), /P\(alive\)/);
  await page.screenshot({ path: shots + '/help.png', fullPage: true });
  ok('help page from the params table');

  await page.goto(url + '/events?run=' + runId);
  assert.ok(await page.locator('#events tbody tr').count() > 3);
  ok('event log');
  assert.deepEqual(errors, [], 'no console errors');
  ok('no console errors (CSP violations included)');

  await page.goto(url + '/no/such/page');
  assert.match(await page.textContent('h1'), /404/);
  ok('a friendly 404 page');
  await changePassword(page);
} catch (e) {
  console.error('FAIL at "' + step + '": ' + e.message);
  if (errors.length) console.error('console errors: ' + errors.join('\n'));
  await page.screenshot({ path: shots + '/failure.png', fullPage: true }).catch(() => {});
  await ctx.close();
  process.exit(1);
}
await ctx.close();

/* x-axis labels of every chart in sel never overlap: level labels' boxes are
   apart; labels rotated by an angle t are parallel lines, apart when the step
   between their anchors times sin(t) exceeds the font size (11 units). */
async function noOverlap(page, sel) {
  const bad = await page.evaluate(s => {
    const out = [];
    document.querySelectorAll(s + ' svg').forEach((svg, k) => {
      const ts = Array.from(svg.querySelectorAll('text.xlabel'));
      for (let i = 1; i < ts.length; i++) {
        const rot = /rotate\((-?[\d.]+)/.exec(ts[i].getAttribute('transform') || '');
        const x0 = Number(ts[i - 1].getAttribute('x')), x1 = Number(ts[i].getAttribute('x'));
        if (rot) {
          if ((x1 - x0) * Math.abs(Math.sin(Number(rot[1]) * Math.PI / 180)) < 11) out.push(k + ':' + i);
        } else {
          const a = ts[i - 1].getBBox(), b = ts[i].getBBox();
          if (a.x + a.width > b.x) out.push(k + ':' + i);
        }
      }
    });
    return out;
  }, sel);
  assert.deepEqual(bad, [], 'overlapping x labels in ' + sel);
}

async function checkDashboard(page, res) {
  const top = await page.locator('#lookup').boundingBox(), kpis = await page.locator('.kpis').boundingBox();
  assert.ok(top.y < kpis.y, 'the customer lookup is above the KPIs');
  const clusters = (res.aggregates.clusters || []).length;
  if (clusters) {
    assert.equal(await page.locator('#chart-clusters svg circle.dot').count(), clusters);
    assert.equal(await page.locator('#chart-clusters svg text.raxis').count(), 5, 'CLV has its own axis');
    assert.equal(await page.locator('#chart-clusters svg rect.bar').count(), clusters, 'bars are customers only');
  }
  await noOverlap(page, '#charts');
  const models = await page.textContent('#models');
  assert.ok(!/[{}]/.test(models), 'no raw JSON in the model fits');
  assert.match(models, /purchase model/);
  assert.match(models, /spend model/);
  const segs = await page.locator('#segments tbody td.action').allTextContents();
  assert.ok(segs.length > 0 && segs.every(t => t.length > 10), 'every segment has a suggested action');
  await page.waitForSelector('#at-risk[data-rendered="1"]');
  assert.ok(await page.locator('#at-risk-customers tbody tr').count() > 0);
  assert.match(await page.textContent('#at-risk-def'), /1 - P\(alive\)/);
  await tablesFit(page);
  ok('dashboard: lookup at the top, CLV on its own axis, labels apart, model fits in words, segment actions, at-risk list, tables fit');
}

/* every table fits its width (no horizontal scrolling at 1280 px) */
async function tablesFit(page) {
  /* tables for screen readers only (.tsr-sr-only) are not drawn */
  const wide = await page.evaluate(() => Array.from(document.querySelectorAll('main table:not(.tsr-sr-only)')).filter(t => {
    const host = t.closest('.scroll') || t.parentElement;
    return t.getBoundingClientRect().width > host.clientWidth + 1 || host.scrollWidth > host.clientWidth + 1;
  }).map(t => t.id || t.className));
  assert.deepEqual(wide, [], 'tables wider than the page');
}

async function compareRuns(page, runA) {
  /* a second run of the same file, observed up to an earlier end */
  const ds = await page.evaluate(async () => (await (await fetch('/api/v1/datasets')).json()).datasets[0].id);
  const job = await page.evaluate(async d => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch('/api/v1/runs', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ dataset_id: d, params: { customer_col: 'customer_id', date_col: 'timestamp', amount_col: 'amount', end: '2024-09-30' } }) });
    return r.json();
  }, ds);
  const jobId = job.job ? job.job.id : job.id;
  let runB = 0;
  for (let i = 0; i < 600 && !runB; i++) {
    const j = await page.evaluate(async id => (await (await fetch('/api/v1/jobs/' + id)).json()).job, jobId);
    if (j.state === 'done') runB = j.run_id;
    else if (j.state !== 'queued' && j.state !== 'running') throw new Error('second run ' + j.state + ': ' + j.error);
    else await page.waitForTimeout(200);
  }
  await page.goto(url + '/runs/' + runA);
  await Promise.all([page.waitForURL(/\/compare$/), page.click('#compare-link')]);
  await page.selectOption('#compare-with', String(runB));
  await Promise.all([page.waitForURL(/with=/), page.click('#compare-go')]);
  await page.waitForSelector('#chart-sankey[data-rendered="1"]');
  const flows = await page.$$eval('#chart-sankey path.flow', ps => ps.map(p => Number(p.getAttribute('data-customers'))));
  const rows = await page.$$eval('#migration tbody tr td:nth-child(3)', tds => tds.map(td => Number(td.textContent)));
  assert.ok(flows.length > 3 && flows.length === rows.length, 'a band per row of the table');
  assert.deepEqual(flows.slice().sort((a, b) => a - b), rows.slice().sort((a, b) => a - b));
  const api = await page.evaluate(async p => (await fetch('/api/v1/runs/' + p[0] + '/compare/' + p[1])).json(), [runA, runB]);
  assert.equal(rows.reduce((a, b) => a + b, 0), api.moves.reduce((a, m) => a + m.customers, 0));
  await page.screenshot({ path: shots + '/compare.png', fullPage: true });
  ok('run comparison: ' + flows.length + ' bands in the flow diagram equal the table and the API');
}

async function bundleViews(page) {
  /* a bundle run stored by `tessera analyze` (households, profiles) */
  const out = process.env.TSR_TMP + '/bout';
  execFileSync(process.env.TSR_BIN, ['analyze', process.env.TSR_BUNDLE, '-o', out, '--db', process.env.TSR_DB],
    { stdio: ['ignore', 'ignore', 'inherit'], env: Object.assign({}, process.env, { TESSERA_NO_PROGRESS: '1' }) });
  const edges = fs.readFileSync(out + '/graph.csv', 'utf8').trim().split('\n').slice(1).map(l => l.split(','));
  const members = {};
  edges.filter(e => e[2] === 'member_of').forEach(e => { (members[e[1]] = members[e[1]] || []).push(e[0]); });
  const head = Object.keys(members).find(k => members[k].length >= 3);
  const cid = head.slice(2);
  /* churn.csv and nbp.csv of the contract (docs/analyze.md) when the run made none */
  if (!fs.existsSync(out + '/churn.csv'))
    fs.writeFileSync(out + '/churn.csv', 'customer_id,churn_probability,reason_1,reason_2,reason_3\n' + cid + ',0.8123,no purchase for 14 weeks,fewer logins,\n');
  if (!fs.existsSync(out + '/nbp.csv'))
    fs.writeFileSync(out + '/nbp.csv', 'customer_id,rank,product,score,reason\n' + cid + ',1,credit_card,0.71,held by similar customers\n');
  const runs = await page.evaluate(async () => (await (await fetch('/api/v1/runs')).json()).runs);
  const run = Math.max.apply(null, runs.map(r => r.id));
  await page.goto(url + '/runs/' + run);
  await page.waitForSelector('#segment-profiles[data-rendered="1"]');
  assert.ok(await page.locator('#segment-profiles table.segprof tbody tr').count() >= 5);
  await page.waitForSelector('#report[data-report-rendered="1"]');
  await tablesFit(page);
  ok('bundle run: segment profiles on the dashboard, every table fits');
  await page.goto(url + '/runs/' + run + '/customers/' + encodeURIComponent(cid));
  await page.waitForSelector('#customer-view[data-rendered="1"]');
  assert.ok(await page.locator('#household-map svg g.member').count() >= members[head].length - 1, 'household members drawn');
  assert.match(await page.textContent('#churn-probability'), /\d+\.\d%/);
  assert.ok(await page.locator('#churn-reasons li').count() >= 1);
  assert.ok(await page.locator('#nbp tbody tr').count() >= 1);
  assert.ok(await page.locator('#profile-table tbody tr').count() > 5);
  await page.screenshot({ path: shots + '/customer-bundle.png', fullPage: true });
  ok('bundle customer page: household map (' + members[head].length + ' members), churn risk with reasons, next best products, profile');
}

async function changePassword(page) {
  await page.goto(url + '/account');
  await page.fill('#current-password', process.env.TSR_PASS);
  await page.fill('#new-password', 'a-brand-new-pass');
  await page.fill('#confirm-password', 'a-brand-new-pass');
  await page.click('#change-password');
  assert.match(await page.textContent('#account-msg'), /changed/);
  await page.click('header .logout button');
  await page.waitForURL(/\/login/);
  await page.fill('#name', process.env.TSR_USER);
  await page.fill('#password', process.env.TSR_PASS);
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.alert'), /wrong user name or password/i);
  await page.fill('#name', process.env.TSR_USER);
  await page.fill('#password', 'a-brand-new-pass');
  await Promise.all([page.waitForURL(/\/runs$/), page.click('button[type=submit]')]);
  ok('password changed on the account page: the old one fails, the new one logs in');
}
