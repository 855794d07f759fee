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
    const W = 560, H = 300, L = 56, R = opts.right ? (opts.right.axis ? 62 : 48) : 14, T = 14, B = opts.rotate ? 86 : 40;
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
    /* x labels never overlap: every step-th label, rotated when they are long (11 px font: about
       6.5 px per character across, 17 px apart along the axis when rotated by 40 degrees) */
    const longest = labels.reduce((m, l) => Math.max(m, Math.min(24, String(l).length)), 1);
    const flatStep = Math.ceil((longest * 6.5 + 8) / gw);
    const rotate = opts.rotate && flatStep > 1;
    const step = rotate ? Math.max(1, Math.ceil(17 / gw)) : Math.max(1, flatStep);
    labels.forEach((lab, i) => {
      series.forEach((s, k) => {
        const v = s.values[i] || 0, h = ph * v / max;
        const r = el('rect', { x: L + gw * i + gw * 0.1 + bw * k, y: T + ph - h, width: bw - 1, height: Math.max(0, h), fill: s.color || COLORS[k], class: 'bar' }, svg);
        const tt = el('title', {}, r);
        tt.textContent = lab + ': ' + s.name + ' ' + fmt(v, opts.digits === undefined ? 0 : opts.digits);
      });
      const x = L + gw * i + gw / 2, y = T + ph + 14;
      if (i % step) return;
      const s = lab.length > 24 ? lab.slice(0, 23) + '\u2026' : lab;
      if (rotate) text(svg, x, y, s, { 'text-anchor': 'end', transform: 'rotate(-40 ' + x + ' ' + y + ')', class: 'xlabel' });
      else text(svg, x, y, s, { 'text-anchor': 'middle', class: 'xlabel' });
    });
    if (opts.right) {
      /* a second series on its own axis (right): shares by default, or its own unit */
      const rs = opts.right, rmax = rs.max || 1, rfmt = rs.fmt || (v => (100 * v).toFixed(0) + '%');
      const ry = v => T + ph - ph * Math.max(0, v) / rmax;
      if (rs.line !== false) {
        const pts = rs.values.map((v, i) => (L + gw * i + gw / 2) + ',' + ry(v)).join(' ');
        el('polyline', { points: pts, fill: 'none', stroke: rs.color, 'stroke-width': 2 }, svg);
      }
      rs.values.forEach((v, i) => {
        const c = el('circle', { cx: L + gw * i + gw / 2, cy: ry(v), r: rs.line === false ? 5 : 3.5, fill: rs.color, class: 'dot' }, svg);
        el('title', {}, c).textContent = labels[i] + ': ' + rs.name + ' ' + (rs.tip ? rs.tip(v) : (100 * v).toFixed(1) + '%');
      });
      el('line', { x1: L + pw, x2: L + pw, y1: T, y2: T + ph, stroke: rs.color }, svg);
      for (let i = 0; i <= 4; i++) text(svg, L + pw + 6, T + ph - ph * i / 4 + 4, rfmt(rmax * i / 4), { class: 'raxis' });
      if (rs.axis) text(svg, W - 6, T + ph / 2, rs.axis, { 'text-anchor': 'middle', transform: 'rotate(90 ' + (W - 6) + ' ' + (T + ph / 2) + ')' });
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
        if (cl.length) {
          const clv = cl.map(c => c.mean_clv || 0), cmax = niceMax(Math.max.apply(null, clv));
          bars(get('clusters'), cl.map(c => 'cluster ' + c.cluster), [{ name: 'customers', values: cl.map(c => c.customers) }],
            { yLabel: 'customers', right: { name: 'mean CLV', values: clv, color: COLORS[2], max: cmax, line: false, fmt: v => fmt(v, 0), tip: v => fmt(v, 2), axis: 'mean CLV' } });
        }
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


  /* ---------------------------------------------------------------- views of api_views.c */

  function getJSON(url) {
    return fetch(url, { credentials: 'same-origin' }).then(r => r.json().then(d => {
      if (!r.ok) throw new Error((d && d.error && d.error.message) || ('HTTP ' + r.status));
      return d;
    }));
  }
  function h(tag, attrs, parent, txt) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (txt !== undefined && txt !== null) e.textContent = String(txt);
    if (parent) parent.appendChild(e);
    return e;
  }
  function pct(v) {
    if (v === null || v === undefined || !isFinite(v)) return '-';
    if (v > 0 && v < 0.001) return '< 0.1%';
    return (100 * v).toFixed(1) + '%';
  }
  function money(v, units) {
    if (v === null || v === undefined || !isFinite(v)) return '-';
    const s = Number(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return units && units.currency ? s + ' ' + units.currency : s;
  }
  /* A table: cols [{label, key | get, num, link}], rows; text only (no HTML from data). */
  function table(parent, cols, rows, id) {
    const t = h('table', { class: 'data' }, parent);
    if (id) t.id = id;
    const tr = h('tr', {}, h('thead', {}, t));
    cols.forEach(c => h('th', {}, tr, c.label));
    const tb = h('tbody', {}, t);
    rows.forEach(r => {
      const row = h('tr', {}, tb);
      cols.forEach(c => {
        const td = h('td', c.num ? { class: 'num' } : {}, row);
        const v = c.get ? c.get(r) : r[c.key];
        if (c.link) h('a', { href: c.link(r) }, td, v);
        else td.textContent = v === null || v === undefined ? '-' : String(v);
      });
    });
    return t;
  }
  function segName(s) { return label(s || ''); }

  function atRisk(sec) {
    const run = sec.getAttribute('data-run');
    getJSON('/api/v1/runs/' + encodeURIComponent(run) + '/at-risk?limit=20').then(d => {
      if (!d.customers.length && !d.segments.some(s => s.at_risk > 0)) return;
      sec.hidden = false;
      const u = d.units;
      const def = sec.querySelector('#at-risk-def');
      def.textContent = 'Customers whose churn probability is at least ' + pct(d.threshold) + ' (' +
        (d.source === 'churn_model' ? 'from the churn model of this run' : 'here 1 - P(alive): this run has no churn model') +
        '), by revenue at risk = churn probability x revenue so far, in ' + (u.currency || 'the currency of the data') + '. ';
      h('a', { href: '/help#g-at-risk' }, def, 'Definition');
      const segs = d.segments.filter(s => s.customers > 0).sort((a, b) => b.revenue_at_risk - a.revenue_at_risk);
      table(sec.querySelector('#at-risk-segments'), [
        { label: 'segment', get: r => segName(r.segment) },
        { label: 'customers', key: 'customers', num: 1 },
        { label: 'at risk', key: 'at_risk', num: 1 },
        { label: 'share at risk', get: r => pct(r.at_risk / r.customers), num: 1 },
        { label: 'revenue at risk', get: r => money(r.revenue_at_risk, u), num: 1 }], segs, 'at-risk-by-segment');
      table(sec.querySelector('#at-risk-list'), [
        { label: 'customer', key: 'customer_id', link: r => '/runs/' + encodeURIComponent(run) + '/customers/' + encodeURIComponent(r.customer_id) },
        { label: 'segment', get: r => segName(r.segment) },
        { label: 'churn probability', get: r => pct(r.churn_probability), num: 1 },
        { label: 'main reason', get: r => r.reason || '-' },
        { label: 'revenue', get: r => money(r.revenue, u), num: 1 },
        { label: 'revenue at risk', get: r => money(r.revenue_at_risk, u), num: 1 }], d.customers, 'at-risk-customers');
      sec.setAttribute('data-rendered', '1');
    }).catch(e => { sec.hidden = false; sec.querySelector('#at-risk-def').textContent = 'Could not be loaded: ' + e.message; });
  }

  function segmentProfiles(sec) {
    const run = sec.getAttribute('data-run');
    getJSON('/api/v1/runs/' + encodeURIComponent(run) + '/segment-profiles').then(d => {
      if (!d.segments.length) return;
      sec.hidden = false;
      const u = d.units, body = sec.querySelector('#segment-profiles-body');
      const kinds = [];
      d.segments.forEach(s => { if (kinds.indexOf(s.kind) < 0) kinds.push(s.kind); });
      kinds.forEach(k => {
        h('h3', {}, body, label(k));
        const wrap = h('div', { class: 'scroll' }, body);
        table(wrap, [
          { label: 'segment', key: 'segment' },
          { label: 'customers', key: 'customers', num: 1 },
          { label: 'share', get: r => pct(r.share), num: 1 },
          { label: 'revenue', get: r => money(r.revenue, u), num: 1 },
          { label: 'mean CLV', get: r => money(r.clv_mean, u), num: 1 },
          { label: 'mean age (years)', get: r => fmt(r.age_mean, 1), num: 1 },
          { label: 'digital share', get: r => pct(r.digital_share), num: 1 },
          { label: 'sentiment (-1 to 1)', get: r => fmt(r.sentiment_mean, 2), num: 1 },
          { label: 'mean P(alive)', get: r => pct(r.p_alive_mean), num: 1 },
          { label: 'products most held', get: r => (r.top_products || '').split(';').map(label).join(', ') }],
          d.segments.filter(s => s.kind === k)).classList.add('segprof');
      });
      sec.setAttribute('data-rendered', '1');
    }).catch(() => {});
  }

  /* The household map: the customer in the middle, household members on a ring, records merged
     into the same person as squares, products as tags below. */
  function householdMap(host, cid, hh, products, base) {
    host.textContent = '';
    /* the household on top, its members in a row below (this customer highlighted), records merged
       into this person as squares under it, the products held as tags at the bottom */
    const all = hh.household ? (hh.members || []).slice() : [cid];
    if (all.indexOf(cid) < 0) all.unshift(cid);
    const shown = all.slice(0, 9), more = all.length - shown.length;
    const recs = (hh.records || []).slice(0, 6);
    const W = 900, H = (products || []).length ? 360 : 300, rowY = 150, step = (W - 80) / shown.length;
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'household map' }, host);
    const links = el('g', {}, svg);
    const short = n => n.length > 16 ? n.slice(0, 15) + '\u2026' : n;
    const node = (x, y, name, kind, tip) => {
      /* members and merged records link to their own customer page */
      const parent = kind === 'member' || kind === 'record' ? el('a', { href: base + encodeURIComponent(name) }, svg) : svg;
      const g = el('g', { class: 'node ' + kind, 'data-id': name }, parent);
      if (kind === 'record') el('rect', { x: x - 9, y: y - 9, width: 18, height: 18, fill: '#d9822b' }, g);
      else if (kind === 'household') el('rect', { x: x - 45, y: y - 14, width: 90, height: 28, rx: 6, fill: '#eef1f5', stroke: '#8a94a3' }, g);
      else el('circle', { cx: x, cy: y, r: kind === 'self' ? 15 : 11, fill: kind === 'self' ? '#1f5fa8' : '#7fa7d6' }, g);
      text(g, x, kind === 'household' ? y + 4 : y + 30, kind === 'household' ? 'household' : short(name), { 'text-anchor': 'middle', 'font-weight': kind === 'self' ? 700 : 400 });
      el('title', {}, g).textContent = tip + name;
      return g;
    };
    const link = (x1, y1, x2, y2, dashed) => el('line', { x1: x1, y1: y1, x2: x2, y2: y2, stroke: dashed ? '#d9822b' : '#8a94a3', 'stroke-width': 1.5, 'stroke-dasharray': dashed ? '4 3' : 'none' }, links);
    let sx = W / 2;
    shown.forEach((m, i) => {
      const x = 40 + step * (i + 0.5);
      if (m === cid) sx = x;
      if (hh.household) link(W / 2, 44, x, rowY, false);
      node(x, rowY, m, m === cid ? 'self' : 'member', m === cid ? 'this customer: ' : 'household member: ');
    });
    if (more > 0) text(svg, W - 10, rowY + 50, '+' + more + ' more', { 'text-anchor': 'end' });
    if (hh.household) node(W / 2, 40, hh.household, 'household', 'household ');
    recs.forEach((r, i) => {
      const x = sx + (i - (recs.length - 1) / 2) * 110, y = rowY + 80;
      link(sx, rowY, x, y, true);
      node(x, y, r, 'record', 'record merged into this person: ');
    });
    if (recs.length) text(svg, 10, rowY + 84, 'same person:', {});
    (products || []).slice(0, 6).forEach((p, i) => {
      const x = 40 + i * 140, y = H - 24;
      el('rect', { x: x, y: y - 13, width: 132, height: 18, rx: 9, fill: '#e6f4ea' }, svg);
      text(svg, x + 66, y, label(p), { 'text-anchor': 'middle', class: 'product' });
    });
    if ((products || []).length) text(svg, 40, H - 46, 'products held by this customer', {});
    host.setAttribute('data-rendered', '1');
  }

  const PROFILE_UNITS = { age: 'years', tenure_years: 'years', digital_share: '%', sentiment_mean: '(-1 to 1)', sentiment_last: '(-1 to 1)', risk_score: '(0 to 100)' };
  function customerView(sec) {
    const run = sec.getAttribute('data-run'), cid = sec.getAttribute('data-customer');
    getJSON('/api/v1/runs/' + encodeURIComponent(run) + '/customers/' + encodeURIComponent(cid) + '/view').then(d => {
      const u = d.units;
      if (d.churn) {
        const box = sec.querySelector('#cust-churn'), b = box.querySelector('.body');
        box.hidden = false;
        const p = h('p', { class: 'big', id: 'churn-probability' }, b, pct(d.churn.probability));
        p.appendChild(document.createTextNode(' '));
        h('small', {}, p, 'probability of no purchase in the next churn window');
        const bar = h('span', { class: 'bar-inline' }, b);
        bar.style.width = Math.round(200 * (d.churn.probability || 0)) + 'px';
        if (d.churn.reasons.length) {
          h('p', {}, b, 'Main reasons:');
          const ol = h('ol', { id: 'churn-reasons' }, b);
          d.churn.reasons.forEach(r => h('li', {}, ol, r));
        }
        h('a', { href: '/help#g-churn-probability' }, b, 'How this is computed');
      }
      if (d.next_best_products.length) {
        const box = sec.querySelector('#cust-nbp');
        box.hidden = false;
        table(box.querySelector('.body'), [
          { label: 'rank', key: 'rank', num: 1 },
          { label: 'product', get: r => label(r.product) },
          { label: 'score (standardised blend, higher = better)', get: r => fmt(r.score, 2), num: 1 },
          { label: 'why', key: 'reason' }], d.next_best_products, 'nbp');
      }
      if (d.goals) { /* goal propensities (goals.csv): P(opening a product of the family in 90 days) */
        const box = sec.querySelector('#cust-nbp');
        box.hidden = false;
        h('p', {}, box.querySelector('.body'), 'Financial goals: probability of opening a product of the goal\'s family in the next 90 days.');
        table(box.querySelector('.body'), [
          { label: 'goal', get: r => label(r.goal) },
          { label: 'probability (0 to 1)', get: r => fmt(r.p, 2), num: 1 }],
          Object.keys(d.goals).map(k => ({ goal: k, p: d.goals[k] })), 'goals');
      }
      const products = d.profile && Array.isArray(d.profile.products) ? d.profile.products : [];
      if (d.household && (d.household.household || d.household.records.length)) {
        sec.querySelector('#cust-household').hidden = false;
        householdMap(sec.querySelector('#household-map'), d.household.same_person_as || cid, d.household, products,
          '/runs/' + encodeURIComponent(run) + '/customers/');
        if (d.household.same_person_as) {
          const n = h('p', { class: 'hint' }, sec.querySelector('#cust-household'), 'This record is merged into the profile of ');
          h('a', { href: '/runs/' + encodeURIComponent(run) + '/customers/' + encodeURIComponent(d.household.same_person_as) }, n, d.household.same_person_as);
        }
      }
      if (d.profile) {
        const box = sec.querySelector('#cust-profile');
        box.hidden = false;
        const rows = Object.keys(d.profile).map(k => {
          let v = d.profile[k];
          if (Array.isArray(v)) v = v.map(label).join(', ');
          else if (/share|probability|p_alive/.test(k) && typeof v === 'number') v = pct(v);
          else if (k === 'revenue' && isFinite(v)) v = money(v, u) + (u.currency ? '' : ' (currency of the data)');
          else if (typeof v === 'number') v = (Number.isInteger(v) ? String(v) : fmt(v, 2)) + (PROFILE_UNITS[k] && PROFILE_UNITS[k] !== '%' ? ' ' + PROFILE_UNITS[k] : '');
          return { field: label(k), value: v };
        });
        table(box.querySelector('.body'), [{ label: 'field', key: 'field' }, { label: 'value', key: 'value' }], rows, 'profile-table');
      }
      sec.setAttribute('data-rendered', '1');
    }).catch(e => { sec.setAttribute('data-error', e.message); });
  }

  function messagePreview(form) {
    const sec = form.closest('[data-run]'), out = document.getElementById('msg-preview');
    form.addEventListener('submit', e => {
      e.preventDefault();
      const meta = document.querySelector('meta[name="csrf-token"]');
      const body = { templates: form.querySelector('#msg-templates').value, offer_name: form.querySelector('#msg-offer').value };
      const ch = form.querySelector('#msg-channel').value;
      if (ch) body.channel = ch;
      if (!body.offer_name) delete body.offer_name;
      out.textContent = '';
      fetch('/api/v1/runs/' + encodeURIComponent(sec.getAttribute('data-run')) + '/customers/' + encodeURIComponent(sec.getAttribute('data-customer')) + '/message', {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': meta ? meta.content : '' }, body: JSON.stringify(body),
      }).then(r => r.json().then(d => ({ ok: r.ok, d: d }))).then(x => {
        if (!x.ok) { h('p', { class: 'alert', role: 'alert' }, out, x.d.error ? x.d.error.message : 'The preview failed'); return; }
        const d = x.d;
        h('p', { class: 'hint' }, out, 'Channel ' + d.channel + ' (at most ' + d.limit + ' characters' + (d.personal ? '' : ', no personal fields') + '). ' +
          'Segment: ' + (d.fields.segment ? segName(d.fields.segment) : 'none') + '; CLV tier: ' + (d.fields.clv_tier || 'none') +
          '; next best product: ' + (d.fields.next_best_product ? label(d.fields.next_best_product) : 'none') + '.');
        if (d.opted_out) h('p', { class: 'alert', id: 'msg-opted-out' }, out, d.note);
        d.variants.forEach(v => {
          const box = h('div', { class: 'variant' }, out);
          h('strong', {}, box, 'Variant ' + v.variant + ': ');
          if (v.fits) {
            box.appendChild(document.createTextNode(v.characters + ' of ' + d.limit + ' characters'));
            h('div', { class: 'msg-out' }, box, v.text);
          } else h('span', { class: 'alert' }, box, 'not sent on this channel: ' + v.error);
        });
        out.setAttribute('data-rendered', '1');
      }).catch(err => { h('p', { class: 'alert' }, out, 'The preview failed: ' + err.message); });
    });
  }

  /* Segment migration as a flow (Sankey) diagram: left the segments of run A, right those of
     run B, a band per move with a width proportional to its customers. */
  function sankey(host) {
    const a = host.getAttribute('data-run-a'), b = host.getAttribute('data-run-b'), by = host.getAttribute('data-by');
    getJSON('/api/v1/runs/' + encodeURIComponent(a) + '/compare/' + encodeURIComponent(b) + '?by=' + encodeURIComponent(by)).then(d => {
      host.textContent = '';
      if (!d.moves.length) return empty(host, 'No customers to compare');
      const left = Object.keys(d.from).sort(), right = Object.keys(d.to).sort();
      const total = d.moves.reduce((s, m) => s + m.customers, 0);
      const W = 900, gap = 8, top = 20, nodeW = 14, Lx = 170, Rx = W - 170;
      const H = Math.max(320, 24 * Math.max(left.length, right.length) + 60);
      const avail = H - top - 20 - gap * (Math.max(left.length, right.length) - 1), k = avail / total;
      const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'segment migration' }, host);
      const place = (names, totals) => { let y = top; const pos = {}; names.forEach(n => { pos[n] = { y: y, h: Math.max(1, totals[n] * k), off: 0 }; y += pos[n].h + gap; }); return pos; };
      const pl = place(left, d.from), pr = place(right, d.to);
      const color = {};
      left.concat(right).forEach(n => { if (!(n in color)) color[n] = COLORS[Object.keys(color).length % COLORS.length]; });
      const moves = d.moves.slice().sort((x, y) => left.indexOf(x.from) - left.indexOf(y.from) || right.indexOf(x.to) - right.indexOf(y.to));
      moves.forEach(m => {
        const w = Math.max(1, m.customers * k), s = pl[m.from], t = pr[m.to];
        const y0 = s.y + s.off + w / 2, y1 = t.y + t.off + w / 2;
        s.off += w; t.off += w;
        const x0 = Lx + nodeW, x1 = Rx, mx = (x0 + x1) / 2;
        const p = el('path', { d: 'M' + x0 + ',' + y0 + ' C' + mx + ',' + y0 + ' ' + mx + ',' + y1 + ' ' + x1 + ',' + y1, fill: 'none', stroke: color[m.from], 'stroke-opacity': 0.45, 'stroke-width': w, class: 'flow', 'data-from': m.from, 'data-to': m.to, 'data-customers': m.customers }, svg);
        el('title', {}, p).textContent = segName(m.from) + ' \u2192 ' + segName(m.to) + ': ' + m.customers + ' customers';
      });
      const side = (names, pos, totals, x, anchor, tx) => names.forEach(n => {
        const r = el('rect', { x: x, y: pos[n].y, width: nodeW, height: pos[n].h, fill: color[n], class: 'snode' }, svg);
        el('title', {}, r).textContent = segName(n) + ': ' + totals[n] + ' customers';
        if (pos[n].h >= 9 || names.length <= 14) text(svg, tx, pos[n].y + pos[n].h / 2 + 4, segName(n) + ' (' + totals[n] + ')', { 'text-anchor': anchor });
      });
      side(left, pl, d.from, Lx, 'end', Lx - 6);
      side(right, pr, d.to, Rx, 'start', Rx + nodeW + 6);
      text(svg, Lx + nodeW / 2, 12, 'run ' + a, { 'text-anchor': 'middle' });
      text(svg, Rx + nodeW / 2, 12, 'run ' + b, { 'text-anchor': 'middle' });
      host.setAttribute('data-rendered', '1');
    }).catch(e => empty(host, 'The diagram could not be loaded: ' + e.message));
  }

  function history(host) {
    const rows = Array.from(document.querySelectorAll('#history tbody tr'));
    if (!rows.length) return empty(host, 'No purchase history stored');
    const labels = rows.map(r => r.getAttribute('data-day'));
    const vals = rows.map(r => parseFloat(r.getAttribute('data-amount')) || 0);
    bars(host, labels, [{ name: 'spend', values: vals }], { digits: 2, rotate: true, yLabel: 'spend per day' });
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
        /* the server words the error (no file paths or command-line options) and links back to the
           dataset: reload once to show it */
        if (j.error && !err.textContent.trim()) { window.location.reload(); return; }
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
    const risk = document.getElementById('at-risk');
    if (risk) atRisk(risk);
    const sp = document.getElementById('segment-profiles');
    if (sp) segmentProfiles(sp);
    const cv = document.getElementById('customer-view');
    if (cv) customerView(cv);
    const mf = document.getElementById('msg-form');
    if (mf) messagePreview(mf);
    const sk = document.getElementById('chart-sankey');
    if (sk) sankey(sk);
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
