/* tessera web application: progress polling, form checks, and the charts of
 * the dashboard and customer pages, drawn as SVG from the JSON API. No
 * external code; served from the binary (CSP script-src 'self'). */
'use strict';
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#1f5fa8', '#d9822b', '#2e8b57', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d', '#b7950b', '#2c3e50', '#e67e22'];

  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, attrs) {
    const t = el('text', Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  function fmt(v, d) {
    if (v === null || v === undefined || !isFinite(v)) return '-';
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    return Number(v).toFixed(d === undefined ? 2 : d);
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function empty(host, msg) {
    host.textContent = '';
    const d = document.createElement('div');
    d.className = 'empty';
    d.textContent = msg;
    host.appendChild(d);
  }

  /* Bar chart: labels, series [{name, values, color}], optional line series on a second axis (shares). */
  function bars(host, labels, series, opts) {
    opts = opts || {};
    host.textContent = '';
    if (!labels.length) return empty(host, 'No data');
    const W = 560, H = 300, L = 56, R = opts.right ? 48 : 14, T = 14, B = opts.rotate ? 86 : 40;
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': opts.title || 'chart' }, host);
    const pw = W - L - R, ph = H - T - B;
    let max = 0;
    series.forEach(s => s.values.forEach(v => { if (v > max) max = v; }));
    max = niceMax(max);
    for (let i = 0; i <= 4; i++) {
      const y = T + ph - ph * i / 4;
      el('line', { x1: L, x2: L + pw, y1: y, y2: y, stroke: '#e2e6ec' }, svg);
      text(svg, L - 6, y + 4, fmt(max * i / 4, max >= 10 ? 0 : 2), { 'text-anchor': 'end' });
    }
    el('line', { x1: L, x2: L, y1: T, y2: T + ph, stroke: '#8a94a3' }, svg);
    el('line', { x1: L, x2: L + pw, y1: T + ph, y2: T + ph, stroke: '#8a94a3' }, svg);
    const gw = pw / labels.length, bw = Math.max(2, (gw * 0.8) / series.length);
    labels.forEach((lab, i) => {
      series.forEach((s, k) => {
        const v = s.values[i] || 0, h = ph * v / max;
        const r = el('rect', { x: L + gw * i + gw * 0.1 + bw * k, y: T + ph - h, width: bw - 1, height: Math.max(0, h), fill: s.color || COLORS[k], class: 'bar' }, svg);
        const tt = el('title', {}, r);
        tt.textContent = lab + ': ' + s.name + ' ' + fmt(v, opts.digits === undefined ? 0 : opts.digits);
      });
      const x = L + gw * i + gw / 2, y = T + ph + 14;
      if (opts.rotate) text(svg, x, y, lab, { 'text-anchor': 'end', transform: 'rotate(-40 ' + x + ' ' + y + ')' });
      else if (labels.length <= 24 || i % Math.ceil(labels.length / 24) === 0) text(svg, x, y, lab, { 'text-anchor': 'middle' });
    });
    if (opts.right) {
      const pts = opts.right.values.map((v, i) => (L + gw * i + gw / 2) + ',' + (T + ph - ph * v)).join(' ');
      el('polyline', { points: pts, fill: 'none', stroke: opts.right.color, 'stroke-width': 2 }, svg);
      opts.right.values.forEach((v, i) => {
        const c = el('circle', { cx: L + gw * i + gw / 2, cy: T + ph - ph * v, r: 3.5, fill: opts.right.color }, svg);
        el('title', {}, c).textContent = labels[i] + ': ' + opts.right.name + ' ' + (100 * v).toFixed(1) + '%';
      });
      for (let i = 0; i <= 4; i++) text(svg, L + pw + 6, T + ph - ph * i / 4 + 4, (25 * i) + '%', {});
    }
    if (opts.xLabel) text(svg, L + pw / 2, H - 4, opts.xLabel, { 'text-anchor': 'middle' });
    if (opts.yLabel) text(svg, 12, T + ph / 2, opts.yLabel, { 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (T + ph / 2) + ')' });
    const legend = series.map(s => s.name).concat(opts.right ? [opts.right.name] : []);
    if (legend.length > 1) {
      legend.forEach((n, i) => {
        const color = i < series.length ? (series[i].color || COLORS[i]) : opts.right.color;
        el('rect', { x: L + 10 + i * 150, y: 2, width: 10, height: 10, fill: color }, svg);
        text(svg, L + 24 + i * 150, 11, n, {});
      });
    }
    return svg;
  }

  function heatmap(host, grid) {
    host.textContent = '';
    if (!grid.length) return empty(host, 'No data');
    const W = 560, H = 300, L = 60, T = 20, cell = 48;
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'RF heatmap' }, host);
    let max = 0;
    grid.forEach(g => { if (g.customers > max) max = g.customers; });
    grid.forEach(g => {
      const x = L + (g.f - 1) * cell, y = T + (5 - g.r) * cell, a = max ? g.customers / max : 0;
      const r = el('rect', { x: x, y: y, width: cell - 2, height: cell - 2, fill: 'rgb(' + Math.round(240 - 209 * a) + ',' + Math.round(244 - 149 * a) + ',' + Math.round(250 - 82 * a) + ')', class: 'cell' }, svg);
      el('title', {}, r).textContent = 'R ' + g.r + ', F ' + g.f + ': ' + g.customers + ' customers, mean spend ' + fmt(g.mean_monetary);
      text(svg, x + cell / 2 - 1, y + cell / 2 + 4, String(g.customers), { 'text-anchor': 'middle', fill: a > 0.55 ? '#fff' : '#1d2430' });
    });
    for (let i = 1; i <= 5; i++) {
      text(svg, L + (i - 1) * cell + cell / 2, T + 5 * cell + 14, 'F' + i, { 'text-anchor': 'middle' });
      text(svg, L - 8, T + (5 - i) * cell + cell / 2 + 4, 'R' + i, { 'text-anchor': 'end' });
    }
    text(svg, L + 2.5 * cell, T + 5 * cell + 30, 'frequency score', { 'text-anchor': 'middle' });
    text(svg, 14, T + 2.5 * cell, 'recency score', { 'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (T + 2.5 * cell) + ')' });
    return svg;
  }

  function label(s) { s = String(s).replace(/_/g, ' '); return s.charAt(0).toUpperCase() + s.slice(1); }

  function dashboard(root) {
    const id = root.getAttribute('data-run');
    fetch('/api/v1/runs/' + encodeURIComponent(id) + '/results', { credentials: 'same-origin' })
      .then(r => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(d => {
        const segs = (d.segments || []).filter(s => s.customers > 0);
        const get = n => root.querySelector('[data-chart="' + n + '"]');
        bars(get('segments'), segs.map(s => label(s.segment)), [{ name: 'customers', values: segs.map(s => s.customers) }],
          { rotate: true, right: { name: 'revenue share', values: segs.map(s => s.revenue_share || 0), color: COLORS[1] }, yLabel: 'customers' });
        const agg = d.aggregates || {};
        heatmap(get('rfgrid'), agg.rf_grid || []);
        const cl = agg.clusters || [];
        if (cl.length) bars(get('clusters'), cl.map(c => 'cluster ' + c.cluster),
          [{ name: 'customers', values: cl.map(c => c.customers) }, { name: 'mean CLV', values: cl.map(c => c.mean_clv || 0), color: COLORS[2] }], { digits: 2 });
        else empty(get('clusters'), 'No clusters in this run');
        const pa = agg.p_alive_hist || [];
        if (pa.some(v => v > 0)) bars(get('palive'), pa.map((v, i) => (i / 10).toFixed(1) + '-' + ((i + 1) / 10).toFixed(1)), [{ name: 'customers', values: pa }], { xLabel: 'P(alive)', yLabel: 'customers' });
        else empty(get('palive'), 'No purchase model in this run');
        const fh = agg.frequency_hist || [];
        bars(get('frequency'), fh.map(f => f.frequency >= 20 ? '20+' : String(f.frequency)), [{ name: 'customers', values: fh.map(f => f.customers) }], { xLabel: 'repeat purchase periods', yLabel: 'customers' });
        const ch = agg.clv_hist;
        if (ch) bars(get('clvhist'), ch.counts.map((c, i) => fmt(ch.edges[i], 0)), [{ name: 'customers', values: ch.counts }], { xLabel: 'CLV (lower bound of bin)', yLabel: 'customers', color: COLORS[2] });
        else empty(get('clvhist'), 'No spend model in this run');
        root.setAttribute('data-rendered', '1');
      })
      .catch(e => { root.querySelectorAll('.plot').forEach(p => empty(p, 'Charts could not be loaded: ' + e.message)); });
  }

  function history(host) {
    const rows = Array.from(document.querySelectorAll('#history tbody tr'));
    if (!rows.length) return empty(host, 'No purchase history stored');
    const labels = rows.map(r => r.getAttribute('data-day'));
    const vals = rows.map(r => parseFloat(r.getAttribute('data-amount')) || 0);
    bars(host, labels, [{ name: 'spend', values: vals }], { digits: 2, rotate: labels.length <= 40, xLabel: labels.length > 40 ? 'purchase days' : undefined, yLabel: 'spend' });
    host.setAttribute('data-rendered', '1');
  }

  function pollJob(box) {
    const id = box.getAttribute('data-job');
    const tick = () => fetch('/api/v1/jobs/' + encodeURIComponent(id), { credentials: 'same-origin' })
      .then(r => r.json())
      .then(d => {
        const j = d.job;
        if (!j) return;
        document.getElementById('job-state').textContent = j.state;
        document.getElementById('job-step').textContent = j.step;
        document.getElementById('job-rows').textContent = j.rows_read;
        const bar = document.querySelector('#job-progress .bar');
        if (bar) bar.style.width = j.progress + '%';
        const sp = document.querySelector('#job-progress span');
        if (sp) sp.textContent = Math.round(j.progress) + '%';
        const err = document.getElementById('job-error');
        if (j.error) { err.hidden = false; err.textContent = j.error; }
        const link = document.getElementById('job-link');
        if (j.run_id && !document.getElementById('run-link')) {
          const a = document.createElement('a');
          a.href = '/runs/' + j.run_id;
          a.id = 'run-link';
          a.textContent = 'Open the ' + (j.state === 'done' ? 'dashboard' : 'record') + ' of run ' + j.run_id;
          link.appendChild(a);
        }
        if (j.state === 'queued' || j.state === 'running') setTimeout(tick, 400);
        else {
          const f = document.getElementById('cancel-form');
          if (f) f.remove();
          const a = document.getElementById('run-link');
          if (a && j.state === 'done') a.textContent = 'Open the dashboard of run ' + j.run_id;
          box.setAttribute('data-finished', j.state);
        }
      })
      .catch(() => setTimeout(tick, 2000));
    tick();
  }

  /* Inline checks of number and date inputs, in plain words. */
  function checkInput(inp) {
    const box = inp.closest('.field');
    const msg = box && box.querySelector('.error-msg');
    if (!msg) return true;
    const v = inp.value.trim();
    let err = '';
    if (v !== '' && inp.hasAttribute('data-min')) {
      const x = Number(v), lo = Number(inp.getAttribute('data-min')), hi = Number(inp.getAttribute('data-max'));
      const open = inp.getAttribute('data-open') === '1', isInt = inp.getAttribute('data-int') === '1';
      if (!isFinite(x) || v === '') err = 'Enter a number.';
      else if (isInt && Math.floor(x) !== x) err = 'Enter a whole number.';
      else if (x < lo || x > hi || (open && x === lo)) err = 'Enter a value ' + (open ? 'above ' : 'from ') + lo + ' up to ' + hi + '.';
    }
    if (v !== '' && inp.hasAttribute('data-date') && !/^\d{4}-\d{2}-\d{2}$/.test(v)) err = 'Enter a date as YYYY-MM-DD, for example 2024-03-31.';
    msg.textContent = err;
    box.classList.toggle('invalid', !!err);
    return !err;
  }

  document.addEventListener('DOMContentLoaded', () => {
    document.querySelectorAll('.progress .bar[data-pct]').forEach(b => { b.style.width = b.getAttribute('data-pct') + '%'; });
    document.querySelectorAll('[data-confirm]').forEach(b => b.addEventListener('click', e => {
      if (!window.confirm(b.getAttribute('data-confirm'))) e.preventDefault();
    }));
    const job = document.getElementById('job');
    if (job) pollJob(job);
    const jobs = document.querySelector('#jobs[data-poll]');
    if (jobs && Array.from(jobs.querySelectorAll('tbody tr td:nth-child(2)')).some(td => /queued|running/.test(td.textContent)))
      setTimeout(() => window.location.reload(), 1500);
    const charts = document.getElementById('charts');
    if (charts) dashboard(charts);
    const rep = document.getElementById('report');
    if (rep) {
      fetch('/api/v1/runs/' + encodeURIComponent(rep.getAttribute('data-run')) + '/report', { credentials: 'same-origin' })
        .then(r => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
        .then(d => {
          if (!window.TesseraReport) throw new Error('the report code is missing');
          window.TesseraReport.render(rep, d);
          rep.setAttribute('data-report-rendered', '1');
        })
        .catch(e => { rep.textContent = 'The detailed report could not be loaded: ' + e.message; });
    }
    const hist = document.getElementById('chart-history');
    if (hist) history(hist);
    const form = document.getElementById('analysis-form');
    if (form) {
      form.querySelectorAll('input[data-min], input[data-date]').forEach(i => i.addEventListener('blur', () => checkInput(i)));
      form.addEventListener('submit', e => {
        let ok = true;
        form.querySelectorAll('input[data-min], input[data-date]').forEach(i => { if (!checkInput(i)) ok = false; });
        if (!ok) { e.preventDefault(); const f = form.querySelector('.field.invalid input'); if (f) f.focus(); }
      });
    }
  });
})();
