// Browser test of the web application (issue 6): log in, upload the demo
// file, map columns, see an inline error, run, watch the job, see the
// dashboard charts render with the KPIs of the API, open a segment and a
// customer, open the help and the event log. No console errors allowed
// (a CSP violation is one). Run by tests/browser/run_web.sh.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

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

  await page.goto(url + '/datasets');
  await page.setInputFiles('#file', process.env.TSR_TX);
  await Promise.all([page.waitForURL(/\/datasets\/\d+$/), page.click('#upload-form button[type=submit]')]);
  assert.equal(await page.locator('#preview tbody tr').count(), 20);
  await page.screenshot({ path: shots + '/dataset.png', fullPage: true });
  ok('upload shows a preview of 20 rows');

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

  await Promise.all([page.waitForURL(/\/segments\//), page.locator('#segments tbody a').first().click()]);
  assert.ok(await page.locator('#customers tbody tr').count() > 0);
  const href = await page.getAttribute('#csv-export', 'href');
  assert.match(href, /customers\.csv\?segment=/);
  await Promise.all([page.waitForURL(/\/customers\//), page.locator('#customers tbody a').first().click()]);
  await page.waitForSelector('#chart-history[data-rendered="1"]');
  assert.ok(await page.locator('#chart-history svg rect').count() > 0);
  await page.screenshot({ path: shots + '/customer.png', fullPage: true });
  ok('segment page and customer page with history chart');

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
} catch (e) {
  console.error('FAIL at "' + step + '": ' + e.message);
  if (errors.length) console.error('console errors: ' + errors.join('\n'));
  await page.screenshot({ path: shots + '/failure.png', fullPage: true }).catch(() => {});
  await ctx.close();
  process.exit(1);
}
await ctx.close();
