/*
 * report.js - draws the tessera analysis report from its data JSON
 * (docs/report.md, "format": "tessera-report", "version": 1).
 *
 *   TesseraReport.render(containerElement, data)
 *
 * Used inlined in the self-contained HTML report (lib/report.c) and by the
 * web application's dashboard (served as an asset). Charts need chart.js 4
 * and chartjs-chart-matrix (window.Chart); without them the tables are drawn
 * and every chart is replaced by a notice. Every string from the data is
 * inserted as text (textContent), never as HTML. Colours: Okabe-Ito
 * (categorical), viridis (sequential), blue-white-vermillion (diverging).
 */
(function (global) {
  "use strict";

  var OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  /* ------------------------------------------------------------ helpers */

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") e.textContent = attrs[k];
        else if (k === "class") e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  var nf0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var nf2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var nf3 = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });

  function fmtInt(v) { return isNum(v) ? nf0.format(Math.round(v)) : "n/a"; }
  function fmtMoney(v) { return isNum(v) ? nf2.format(v) : "n/a"; }
  function fmtNum(v) {
    if (!isNum(v)) return "n/a";
    /* never scientific notation: tiny values as "< 0.001" */
    return v !== 0 && Math.abs(v) < 1e-3 ? (v < 0 ? "> -0.001" : "< 0.001") : nf3.format(v);
  }
  function fmtPct(v) {
    if (!isNum(v)) return "n/a";
    if (v > 0 && v < 5e-4) return "< 0.1%";
    return (100 * v).toFixed(1) + "%";
  }
  function fmtCompact(v) {
    if (!isNum(v)) return "n/a";
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    if (a > 0 && a < 1e-3) return v < 0 ? "> -0.001" : "< 0.001";
    return nf3.format(v);
  }

  function viridis(t) {
    if (!isNum(t)) return "rgba(200,200,200,0.5)";
    t = Math.max(0, Math.min(1, t));
    var p = t * (VIRIDIS.length - 1), i = Math.min(Math.floor(p), VIRIDIS.length - 2), f = p - i;
    var a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + f * (b[k] - a[k])); }).join(",") + ")";
  }
  function diverging(v) {
    if (!isNum(v)) return "rgba(200,200,200,0.5)";
    var t = Math.max(-1, Math.min(1, v)), c = t < 0 ? [0, 114, 178] : [213, 94, 0], f = Math.abs(t);
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(255 + f * (c[k] - 255)); }).join(",") + ")";
  }
  function textOn(bg) { /* readable label colour on a cell */
    var m = /rgb\((\d+),(\d+),(\d+)\)/.exec(bg);
    if (!m) return "#000";
    var l = 0.299 * m[1] + 0.587 * m[2] + 0.114 * m[3];
    return l < 140 ? "#fff" : "#000";
  }

  /* ------------------------------------------------------------ layout */

  function section(root, id, title, intro) {
    var s = el("section", { id: "tsr-" + id, class: "tsr-section" }, [el("h2", { text: title })]);
    if (intro) s.appendChild(el("p", { class: "tsr-intro", text: intro }));
    var grid = el("div", { class: "tsr-grid" });
    s.appendChild(grid);
    root.appendChild(s);
    return grid;
  }

  var charts = [];

  /* A figure with a canvas; cfg is a chart.js configuration. */
  function chart(grid, title, caption, cfg, wide) {
    var fig = el("figure", { class: "tsr-figure" + (wide ? " tsr-wide" : "") });
    fig.appendChild(el("figcaption", { class: "tsr-fig-title", text: title }));
    var box = el("div", { class: "tsr-chart-box" });
    fig.appendChild(box);
    if (caption) fig.appendChild(el("p", { class: "tsr-caption", text: caption }));
    grid.appendChild(fig);
    if (!global.Chart) {
      box.className += " tsr-nochart";
      box.appendChild(el("p", { class: "tsr-notice", text: "Chart unavailable: this tessera was built without its chart library (npm was missing at build time)." }));
      return null;
    }
    var canvas = el("canvas", { class: "tsr-chart", role: "img", "aria-label": title });
    box.appendChild(canvas);
    cfg.options = cfg.options || {};
    cfg.options.responsive = true;
    cfg.options.maintainAspectRatio = false;
    cfg.options.animation = false;
    cfg.options.plugins = cfg.options.plugins || {};
    if (cfg.options.plugins.legend === undefined) cfg.options.plugins.legend = { position: "bottom" };
    var c = new global.Chart(canvas, cfg);
    charts.push(c);
    return c;
  }

  function table(grid, title, columns, rows, wide, attrsOf) {
    var fig = el("figure", { class: "tsr-figure tsr-table-fig" + (wide ? " tsr-wide" : "") });
    if (title) fig.appendChild(el("figcaption", { class: "tsr-fig-title", text: title }));
    var t = el("table", { class: "tsr-table" });
    var thead = el("thead"), tr = el("tr");
    columns.forEach(function (c) { tr.appendChild(el("th", { text: c.label, class: c.num ? "num" : "" })); });
    thead.appendChild(tr);
    t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      columns.forEach(function (c) {
        var td = el("td", { class: c.num ? "num" : "", text: c.fmt ? c.fmt(r[c.key], r) : (r[c.key] === null || r[c.key] === undefined ? "" : String(r[c.key])) });
        if (attrsOf) {
          var a = attrsOf(r, c);
          if (a) Object.keys(a).forEach(function (k) { td.setAttribute(k, a[k]); });
        }
        row.appendChild(td);
      });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    fig.appendChild(el("div", { class: "tsr-table-wrap" }, [t]));
    grid.appendChild(fig);
    return t;
  }

  function axis(title, extra) {
    var a = { title: { display: true, text: title } };
    Object.keys(extra || {}).forEach(function (k) { a[k] = extra[k]; });
    return a;
  }

  /* A heatmap (chartjs-chart-matrix) of m[row][col]. */
  function heatmap(grid, title, caption, xLabels, yLabels, m, opts) {
    opts = opts || {};
    var data = [], lo = Infinity, hi = -Infinity;
    for (var i = 0; i < yLabels.length; i++)
      for (var j = 0; j < xLabels.length; j++) {
        var v = m[i] ? m[i][j] : null;
        data.push({ x: String(xLabels[j]), y: String(yLabels[i]), v: isNum(v) ? v : null });
        if (isNum(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      }
    if (opts.min !== undefined) lo = opts.min;
    if (opts.max !== undefined) hi = opts.max;
    var color = opts.diverging ? diverging : function (v) { return viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5); };
    var fmt = opts.fmt || fmtNum;
    var showValues = xLabels.length * yLabels.length <= 100;
    var labelPlugin = {
      id: "tsrCellLabels",
      afterDatasetsDraw: function (c) {
        if (!showValues) return;
        var ctx = c.ctx, meta = c.getDatasetMeta(0);
        ctx.save();
        ctx.font = "11px sans-serif";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        meta.data.forEach(function (elm, k) {
          var d = data[k];
          if (d.v === null) return;
          var p = elm.getCenterPoint ? elm.getCenterPoint() : { x: elm.x, y: elm.y };
          ctx.fillStyle = textOn(color(d.v));
          ctx.fillText(fmt(d.v), p.x, p.y);
        });
        ctx.restore();
      }
    };
    var c = chart(grid, title, caption, {
      type: "matrix",
      data: {
        datasets: [{
          label: title,
          data: data,
          backgroundColor: function (c) { var d = c.dataset.data[c.dataIndex]; return d && d.v !== null ? color(d.v) : "rgba(220,220,220,0.4)"; },
          borderColor: "rgba(255,255,255,0.6)",
          borderWidth: 1,
          width: function (c) { var a = c.chart.chartArea; return a ? a.width / xLabels.length - 1 : 10; },
          height: function (c) { var a = c.chart.chartArea; return a ? a.height / yLabels.length - 1 : 10; }
        }]
      },
      options: {
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function () { return ""; },
              label: function (c) {
                var d = c.raw;
                return (opts.yName || "y") + " " + d.y + ", " + (opts.xName || "x") + " " + d.x + ": " + (d.v === null ? "n/a" : fmt(d.v));
              }
            }
          }
        },
        scales: {
          x: axis(opts.xName || "", { type: "category", labels: xLabels.map(String), offset: true, grid: { display: false } }),
          y: axis(opts.yName || "", { type: "category", labels: yLabels.map(String), offset: true, reverse: !!opts.reverseY, grid: { display: false } })
        }
      },
      plugins: [labelPlugin]
    }, opts.wide);
    /* colour scale legend under the chart */
    var fig = grid.lastChild, stops = [];
    for (var q = 0; q <= 10; q++) stops.push((opts.diverging ? diverging(-1 + q / 5) : viridis(q / 10)) + " " + (q * 10) + "%");
    var bar = el("div", { class: "tsr-scale-bar" });
    /* CSSOM, not a style attribute: allowed by the web server's CSP */
    bar.style.background = "linear-gradient(to right, " + stops.join(", ") + ")";
    var legend = el("div", { class: "tsr-scale", role: "img", "aria-label": "colour scale from " + fmt(lo) + " to " + fmt(hi) }, [
      el("span", { text: isNum(lo) ? fmt(lo) : "" }), bar, el("span", { text: isNum(hi) ? fmt(hi) : "" })]);
    fig.insertBefore(legend, fig.querySelector(".tsr-caption"));
    return c;
  }

  /* ------------------------------------------------------------ sections */

  var KPI_LIST = [
    ["customers", "Customers", fmtInt],
    ["transactions", "Purchases", fmtInt],
    ["visits", "Visits (active days)", fmtInt],
    ["revenue", "Revenue", fmtMoney],
    ["top20_revenue_share", "Revenue from top 20%", fmtPct],
    ["repeat_share", "Bought again", fmtPct],
    ["churn_rate", "Churn rate", fmtPct],
    ["mean_p_alive", "Mean P(alive)", fmtNum],
    ["clv_total", "Total CLV", fmtMoney],
    ["clv_mean", "Mean CLV", fmtMoney],
    ["first_purchase", "First purchase", String],
    ["last_purchase", "Last activity", String]
  ];

  /* Plain-language meaning of every term the report uses (tooltips of the
   * key figures and the glossary at the end). */
  var GLOSSARY = [
    ["CLV", "Customer lifetime value: the spend a customer is expected to bring over the CLV horizon (12 months unless chosen otherwise), discounted by 1% per month, from the purchase and spend models."],
    ["P(alive)", "The probability that a customer is still active (has not left for good) at the end of the data, given how often and how recently they bought."],
    ["Churn rate", "The share of customers whose P(alive) is below the churn threshold (0.5 unless chosen otherwise): those the model thinks have left."],
    ["RFM", "Recency, frequency, monetary value: each customer is scored 1 to 5 on how recently they bought, how often, and how much they spent; the segments are named from these scores."],
    ["Recency", "Time between a customer's first and last purchase; the time since the last purchase is T minus recency."],
    ["T", "A customer's age: the time from their first purchase to the end of the data."],
    ["Frequency", "The number of repeat purchases (days with a purchase after the first one)."],
    ["BG/NBD", "Beta-geometric/negative binomial model: while active a customer buys at random at a personal rate; after each purchase they may leave for good. One-time buyers can never leave in it."],
    ["MBG/NBD", "Modified BG/NBD: as BG/NBD, but a customer may also leave right after the first purchase, so one-time buyers can churn."],
    ["Pareto/NBD", "A customer buys at random at a personal rate and leaves at a random time with a personal rate; one-time buyers can churn."],
    ["Gamma-Gamma", "The spend model: each customer's average purchase value varies around a personal mean."]
  ];
  var KPI_TIPS = {
    churn_rate: GLOSSARY[2][1], mean_p_alive: GLOSSARY[1][1], clv_total: GLOSSARY[0][1], clv_mean: GLOSSARY[0][1],
    repeat_share: "Share of customers who bought more than once.",
    top20_revenue_share: "Share of the revenue brought by the 20% of customers who spent most.",
    visits: "Days with at least one purchase, summed over the customers."
  };

  function renderGlossary(root) {
    var grid = section(root, "glossary", "Glossary", "What the terms of this report mean.");
    var dl = el("dl", { class: "tsr-glossary tsr-wide" });
    GLOSSARY.forEach(function (g) {
      dl.appendChild(el("dt", { text: g[0] }));
      dl.appendChild(el("dd", { text: g[1] }));
    });
    grid.appendChild(dl);
  }

  function renderHeader(root, d) {
    var m = d.meta || {};
    var h = el("header", { class: "tsr-header" });
    h.appendChild(el("h1", { text: m.title || "tessera analysis report" }));
    var parts = [];
    /* the file names only: a full path says nothing to the reader */
    if (m.source) parts.push("input: " + String(m.source).split(";").map(function (p) {
      return p.split(/[\\/]/).pop();
    }).join(", "));
    if (m.run_id) parts.push("run " + m.run_id);
    if (m.generated_at) parts.push("generated " + m.generated_at);
    if (m.tessera_version) parts.push("tessera " + m.tessera_version);
    h.appendChild(el("p", { class: "tsr-sub", text: parts.join(" · ") }));
    var nav = el("nav", { class: "tsr-nav", "aria-label": "sections" });
    [["kpis", "KPIs"], ["segments", "Segments"], ["features", "Features"], ["rfm", "RFM"], ["clusters", "Clusters"],
     ["models", "Models"], ["customers", "Customers"], ["run", "Run"], ["glossary", "Glossary"]].forEach(function (s) {
      nav.appendChild(el("a", { href: "#tsr-" + s[0], text: s[1] }));
    });
    h.appendChild(nav);
    root.appendChild(h);
    if (!global.Chart) {
      root.appendChild(el("p", { class: "tsr-notice", text: "Charts are unavailable in this report: tessera was built without its chart library (npm was missing at build time). The tables carry the numbers." }));
    }
  }

  function renderKpis(root, d) {
    var grid = section(root, "kpis", "Key figures", "The whole customer base. Churn rate: share of customers whose P(alive) — the probability of still being an active customer — is below " +
      fmtNum((d.meta || {}).churn_threshold) + ". Hover a figure for its meaning; the glossary is at the end.");
    var k = d.kpis || {};
    var cards = el("div", { class: "tsr-kpis tsr-wide" });
    KPI_LIST.forEach(function (x) {
      var v = k[x[0]];
      if (v === undefined) return;
      cards.appendChild(el("div", { class: "tsr-kpi", "data-kpi": x[0], title: KPI_TIPS[x[0]] || x[1], "data-value": v === null ? "" : String(v) }, [
        el("div", { class: "tsr-kpi-value", text: v === null ? "n/a" : x[2](v) }),
        el("div", { class: "tsr-kpi-label", text: x[1] })
      ]));
    });
    grid.appendChild(cards);
    var p = d.pareto;
    if (p && p.revenue_share) {
      var pts = p.revenue_share.map(function (y, i) { return { x: 100 * i / (p.revenue_share.length - 1), y: 100 * y }; });
      chart(grid, "Pareto curve: revenue share of the top customers",
        "Top 20% of customers bring " + fmtPct(p.top20_share) + " of the revenue.", {
          type: "line",
          data: { datasets: [
            { label: "revenue share", data: pts, borderColor: OKABE_ITO[0], backgroundColor: OKABE_ITO[0], pointRadius: 0, borderWidth: 2 },
            { label: "equal spend", data: [{ x: 0, y: 0 }, { x: 100, y: 100 }], borderColor: "#999", borderDash: [4, 4], pointRadius: 0, borderWidth: 1 }
          ] },
          options: { scales: { x: axis("top customers (% of customers)", { type: "linear", min: 0, max: 100 }), y: axis("share of revenue (%)", { min: 0, max: 100 }) },
            plugins: { tooltip: { callbacks: { label: function (c) { return "top " + c.parsed.x.toFixed(0) + "%: " + c.parsed.y.toFixed(1) + "% of revenue"; } } } } }
        });
    }
    var mo = d.monthly;
    if (mo && mo.months) {
      var ds = [{ label: "joins (first purchase)", data: mo.joins, backgroundColor: OKABE_ITO[2] }];
      if (mo.leavers) ds.push({ label: "leavers (last purchase, now P(alive) < threshold)", data: mo.leavers, backgroundColor: OKABE_ITO[5] });
      chart(grid, "Joins and leavers per month", "Leavers are counted in the month of their last purchase.", {
        type: "bar", data: { labels: mo.months, datasets: ds },
        options: { scales: { x: axis("month"), y: axis("customers", { beginAtZero: true }) } }
      });
    }
  }

  function renderSegments(root, d) {
    var segs = (d.segments || []).filter(function (s) { return s.customers > 0; });
    if (!segs.length) return;
    var grid = section(root, "segments", "RFM segments", "Segments of the " + ((d.rfm || {}).scheme || "RFM") + " scheme: size, revenue and outlook.");
    chart(grid, "Customers and revenue by segment", null, {
      type: "bar",
      data: { labels: segs.map(function (s) { return s.segment; }), datasets: [
        { label: "share of customers (%)", data: segs.map(function (s) { return 100 * s.share; }), backgroundColor: OKABE_ITO[0] },
        { label: "share of revenue (%)", data: segs.map(function (s) { return 100 * s.revenue_share; }), backgroundColor: OKABE_ITO[1] }
      ] },
      options: { indexAxis: "y", scales: { x: axis("% of the base", { beginAtZero: true }), y: axis("segment") },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + c.parsed.x.toFixed(1) + "%"; } } } } }
    }, true);
    table(grid, "Segment KPIs", [
      { key: "segment", label: "segment" },
      { key: "customers", label: "customers", num: 1, fmt: fmtInt },
      { key: "share", label: "share", num: 1, fmt: fmtPct },
      { key: "transactions", label: "purchases", num: 1, fmt: fmtInt },
      { key: "visits", label: "visits", num: 1, fmt: fmtInt },
      { key: "revenue", label: "revenue", num: 1, fmt: fmtMoney },
      { key: "revenue_share", label: "rev. share", num: 1, fmt: fmtPct },
      { key: "churn_rate", label: "churn rate", num: 1, fmt: fmtPct },
      { key: "clv_mean", label: "mean CLV", num: 1, fmt: fmtMoney },
      { key: "clv_total", label: "total CLV", num: 1, fmt: fmtMoney },
      { key: "top20_revenue_share", label: "top-20% rev. share", num: 1, fmt: fmtPct },
      { key: "first_purchase", label: "first join" },
      { key: "last_purchase", label: "last activity" }
    ], segs, true, function (r, c) { return { "data-segment": r.segment, "data-col": c.key }; });
    renderMigration(grid, d.migration);
  }

  /* Customers moving between segments since the previous stored run. */
  function renderMigration(grid, mg) {
    if (!mg || !mg.moves || !mg.moves.length) return;
    var from = [], to = [];
    mg.moves.forEach(function (m) {
      if (from.indexOf(m.from) < 0) from.push(m.from);
      if (to.indexOf(m.to) < 0) to.push(m.to);
    });
    from.sort(); to.sort();
    var mat = from.map(function () { return to.map(function () { return null; }); });
    mg.moves.forEach(function (m) { mat[from.indexOf(m.from)][to.indexOf(m.to)] = m.customers; });
    heatmap(grid, "Segment migration since run " + mg.from_run,
      "Customers by their segment in run " + mg.from_run + " (rows) and in run " + mg.to_run +
      " (columns); (new) and (gone): customers in only one run. 'tessera migration " + mg.from_run + " " + mg.to_run + "' prints the table.",
      to, from, mat, { xName: "run " + mg.to_run, yName: "run " + mg.from_run, fmt: fmtInt });
  }

  function histChart(grid, h) {
    var labels = [], n = h.counts.length;
    for (var i = 0; i < n; i++) labels.push(fmtCompact(h.edges[i]) + "–" + fmtCompact(h.edges[i + 1]));
    var integer = n > 0 && h.edges[1] - h.edges[0] === 1 && Math.abs(h.edges[0] % 1) === 0.5;
    if (integer) labels = h.counts.map(function (_, i) { return String(h.edges[i] + 0.5); });
    chart(grid, "Distribution of " + h.label, h.log ? "Bins equal on a log(1 + x) scale (skewed data)." : null, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "customers", data: h.counts, backgroundColor: OKABE_ITO[4], borderColor: OKABE_ITO[0], borderWidth: 1, barPercentage: 1, categoryPercentage: 1 }] },
      options: { plugins: { legend: { display: false } },
        scales: { x: axis(h.label + (h.log ? " (log1p bins)" : "")), y: axis("customers", { beginAtZero: true }) } }
    });
  }

  function renderFeatures(root, d) {
    var grid = section(root, "features", "Feature relations", "Distributions of the per-customer features and how they relate.");
    var dist = d.distributions || {};
    Object.keys(dist).forEach(function (k) { if (dist[k].counts && dist[k].counts.length) histChart(grid, dist[k]); });
    var c = d.correlation;
    if (c) {
      var opts = { diverging: true, min: -1, max: 1, fmt: function (v) { return v.toFixed(2); }, xName: "feature", yName: "feature", wide: false };
      heatmap(grid, "Pearson correlation", "Linear correlation of the raw values (-1 blue … +1 vermillion).", c.features, c.features, c.pearson, opts);
      heatmap(grid, "Spearman correlation", "Rank correlation (monotone relations, robust to skew).", c.features, c.features, c.spearman, opts);
    }
    var fm = d.frequency_monetary;
    if (fm) {
      var r = fm.pearson, ok = isNum(r) && Math.abs(r) < 0.3;
      chart(grid, "Frequency vs monetary value (repeat customers)",
        "Gamma-Gamma independence check: Pearson r = " + fmtNum(fm.pearson) + ", Spearman ρ = " + fmtNum(fm.spearman) + " over " + fmtInt(fm.repeat_customers) +
        " repeat customers — " + (ok ? "weak, the spend model's assumption holds." : "not weak: the spend model's independence assumption is doubtful.") +
        (fm.sample_step > 1 ? " One customer in " + fm.sample_step + " shown." : ""), {
          type: "scatter",
          data: { datasets: [{ label: "customer", data: fm.points.map(function (p) { return { x: p[0], y: p[1] }; }), backgroundColor: "rgba(0,114,178,0.35)", pointRadius: 2 }] },
          options: { plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return "frequency " + c.parsed.x + ", monetary " + fmtMoney(c.parsed.y); } } } },
            scales: { x: axis("frequency (repeat periods)", { type: "logarithmic" }), y: axis("monetary value", { type: "logarithmic" }) } }
        });
    }
  }

  function renderRfm(root, d) {
    var r = d.rfm;
    if (!r || !r.r_levels || !r.f_levels) return;
    var grid = section(root, "rfm", "RFM grid", "Customers by recency score R (5 = most recent) and frequency score F (5 = most frequent).");
    var rl = [], fl = [];
    for (var i = 1; i <= r.r_levels; i++) rl.push(i);
    for (var j = 1; j <= r.f_levels; j++) fl.push(j);
    heatmap(grid, "Customers per R × F cell", null, fl, rl, r.count, { xName: "F score", yName: "R score", reverseY: true, fmt: fmtInt });
    heatmap(grid, "Mean monetary value per R × F cell", null, fl, rl, r.mean_monetary, { xName: "F score", yName: "R score", reverseY: true, fmt: fmtCompact });
  }

  function renderClusters(root, d) {
    var c = d.clusters;
    if (!c || !c.clusters || !c.clusters.length) return;
    var grid = section(root, "clusters", "Clusters", c.k + " clusters.");
    var names = c.clusters.map(function (x) { return x.name + (x.label ? ": " + x.label : ""); });
    chart(grid, "Cluster sizes", null, {
      type: "bar",
      data: { labels: names, datasets: [{ label: "customers", data: c.clusters.map(function (x) { return x.size; }), backgroundColor: c.clusters.map(function (_, i) { return OKABE_ITO[i % 8]; }) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: axis("customers", { beginAtZero: true }), y: axis("cluster") } }
    });
    chart(grid, "Cluster profiles (mean relative to the whole base)", "1 = the base's mean; each line is a cluster (parallel coordinates).", {
      type: "line",
      data: { labels: c.features, datasets: c.clusters.map(function (x, i) {
        return { label: names[i], data: x.relative, borderColor: OKABE_ITO[i % 8], backgroundColor: OKABE_ITO[i % 8], spanGaps: true, borderWidth: 2 };
      }) },
      options: { scales: { x: axis("feature"), y: axis("cluster mean / overall mean", { type: "logarithmic" }) },
        plugins: { tooltip: { callbacks: { label: function (t) { var x = c.clusters[t.datasetIndex]; return names[t.datasetIndex] + ": " + fmtNum(t.parsed.y) + "× (mean " + fmtNum(x.mean[t.dataIndex]) + ")"; } } } } }
    });
    var pr = c.projection;
    if (pr && pr.points) {
      var by = {};
      pr.points.forEach(function (p) { (by[p[2]] = by[p[2]] || []).push({ x: p[0], y: p[1] }); });
      chart(grid, "2-D projection (principal components)", "Standardised log(1 + x) of frequency, recency, T, monetary value and revenue; the two axes explain " +
        fmtPct(pr.explained) + " of the variance." + (pr.sample_step > 1 ? " One customer in " + pr.sample_step + " shown." : ""), {
          type: "scatter",
          data: { datasets: Object.keys(by).map(function (k) {
            var i = Number(k), x = c.clusters.filter(function (q) { return q.id === i; })[0];
            var col = i < 0 ? "#999999" : OKABE_ITO[i % 8];
            return { label: x ? x.name : "cluster " + k, data: by[k], backgroundColor: col, pointRadius: 2 };
          }) },
          options: { scales: { x: axis("component 1"), y: axis("component 2") } }
        }, true);
    }
    table(grid, "Cluster profiles", [{ key: "name", label: "cluster" }, { key: "label", label: "profile" },
      { key: "size", label: "customers", num: 1, fmt: fmtInt }, { key: "share", label: "share", num: 1, fmt: fmtPct }]
      .concat(c.features.map(function (f, i) { return { key: "m" + i, label: "mean " + f, num: 1, fmt: fmtNum }; })),
      c.clusters.map(function (x) { var o = { name: x.name, label: x.label, size: x.size, share: x.share }; x.mean.forEach(function (v, i) { o["m" + i] = v; }); return o; }), true);
  }

  function renderModels(root, d) {
    var m = d.model;
    if (!m) return;
    var grid = section(root, "models", "Purchase and spend models", "Fitted " + m.kind + (d.meta && d.meta.has_spend ? " and Gamma-Gamma" : "") +
      " (log-likelihood " + fmtNum(m.loglik) + ", " + (m.converged ? "converged" : "NOT converged") + " in " + m.iterations + " iterations).");
    table(grid, "Parameters", [{ key: "model", label: "model" }, { key: "name", label: "parameter" },
      { key: "value", label: "estimate", num: 1, fmt: fmtNum }, { key: "se", label: "std. error", num: 1, fmt: fmtNum }], m.params || []);
    var fr = m.frequency_recency;
    if (fr) {
      var rec = fr.recency.map(function (v) { return fmtCompact(v); }), fq = fr.frequency.map(String);
      heatmap(grid, "Expected purchases in the next " + fmtNum(fr.t) + " periods", "By frequency and recency, for a customer of age T = " + fmtNum(fr.T) + " periods (lifetimes' frequency/recency matrix).",
        rec, fq, fr.expected, { xName: "recency (periods)", yName: "frequency", reverseY: true });
      heatmap(grid, "Probability that the customer is alive", "By frequency and recency at T = " + fmtNum(fr.T) + " periods.",
        rec, fq, fr.p_alive, { xName: "recency (periods)", yName: "frequency", reverseY: true, min: 0, max: 1, fmt: function (v) { return v.toFixed(2); } });
    }
    var rp = m.repeat_purchases;
    if (rp) {
      var lab = rp.observed.map(function (_, i) { return i === rp.observed.length - 1 ? i + "+" : String(i); });
      chart(grid, "Repeat purchases: observed vs model", "Customers by number of repeat purchases in their own observation period; model: Σ P(X(T) = n) over customers.", {
        type: "bar",
        data: { labels: lab, datasets: [
          { label: "observed", data: rp.observed, backgroundColor: OKABE_ITO[0] },
          { label: "model", data: rp.model, backgroundColor: OKABE_ITO[1] }
        ] },
        options: { scales: { x: axis("repeat purchases"), y: axis("customers", { beginAtZero: true }) } }
      });
    }
    var t = d.tracking;
    if (t && t.dates) {
      var calIdx = -1;
      if (t.calibration_end) for (var i = 0; i < t.dates.length; i++) if (t.dates[i] >= t.calibration_end) { calIdx = i; break; }
      var marker = {
        id: "tsrCalMarker",
        afterDatasetsDraw: function (c) {
          if (calIdx < 0) return;
          var x = c.scales.x.getPixelForValue(calIdx), a = c.chartArea, ctx = c.ctx;
          ctx.save();
          ctx.strokeStyle = "#555";
          ctx.setLineDash([5, 4]);
          ctx.beginPath();
          ctx.moveTo(x, a.top);
          ctx.lineTo(x, a.bottom);
          ctx.stroke();
          ctx.fillStyle = "#333";
          ctx.font = "11px sans-serif";
          ctx.fillText("calibration end", x + 4, a.top + 12);
          ctx.restore();
        }
      };
      var cap = "Repeat purchases of the customers acquired " + (t.calibration_end ? "by the calibration end (" + t.calibration_end + ", dashed line)" : "in the data") +
        "; model: Σ E[X(t − first purchase)]. Points every " + t.step_days + " days.";
      [["Cumulative repeat purchases: actual vs model", t.actual_cumulative, t.expected_cumulative],
       ["Repeat purchases per " + (t.step_days === 7 ? "week" : t.step_days + " days") + ": actual vs model", t.actual, t.expected]].forEach(function (s) {
        chart(grid, s[0], cap, {
          type: "line",
          data: { labels: t.dates, datasets: [
            { label: "actual", data: s[1], borderColor: OKABE_ITO[0], backgroundColor: OKABE_ITO[0], pointRadius: 0, borderWidth: 2 },
            { label: "model", data: s[2], borderColor: OKABE_ITO[5], backgroundColor: OKABE_ITO[5], borderDash: [6, 3], pointRadius: 0, borderWidth: 2 }
          ] },
          options: { interaction: { mode: "index", intersect: false }, scales: { x: axis("date", { ticks: { maxTicksLimit: 12 } }), y: axis("repeat purchases", { beginAtZero: true }) } },
          plugins: [marker]
        }, true);
      });
    }
    var h = d.holdout;
    if (h && h.buckets) {
      chart(grid, "Calibration vs holdout", "Mean purchases in the holdout period by calibration frequency; mean absolute error " + fmtNum(h.mae) + " per customer.", {
        type: "bar",
        data: { labels: h.buckets.map(function (b) { return b.frequency; }), datasets: [
          { label: "actual", data: h.buckets.map(function (b) { return b.actual; }), backgroundColor: OKABE_ITO[0] },
          { label: "model", data: h.buckets.map(function (b) { return b.predicted; }), backgroundColor: OKABE_ITO[1] }
        ] },
        options: { scales: { x: axis("repeat purchases in the calibration period"), y: axis("mean holdout purchases", { beginAtZero: true }) },
          plugins: { tooltip: { callbacks: { afterLabel: function (c) { return fmtInt(h.buckets[c.dataIndex].customers) + " customers"; } } } } }
      });
    }
  }

  function renderCustomers(root, d) {
    var grid = section(root, "customers", "Customers to know", null);
    var cols = [{ key: "customer_id", label: "customer" }, { key: "segment", label: "segment" },
      { key: "frequency", label: "frequency", num: 1, fmt: fmtNum }, { key: "revenue", label: "revenue", num: 1, fmt: fmtMoney },
      { key: "last_purchase", label: "last purchase" }, { key: "p_alive", label: "P(alive)", num: 1, fmt: fmtNum },
      { key: "expected_purchases", label: "expected purchases", num: 1, fmt: fmtNum },
      { key: "clv", label: "CLV", num: 1, fmt: fmtMoney },
      { key: "clv_lo", label: "CLV interval", num: 1, fmt: function (v, r) { return isNum(r.clv_lo) ? fmtMoney(r.clv_lo) + " – " + fmtMoney(r.clv_hi) : "n/a"; } }];
    if (d.top_customers) table(grid, "Top customers by " + (d.top_customers_by === "clv" ? "CLV" : "revenue"), cols, d.top_customers, true);
    if (d.at_risk) table(grid, "Most at risk: high value, low P(alive)", cols.concat([{ key: "revenue_at_risk", label: "revenue × (1 − P(alive))", num: 1, fmt: fmtMoney }]), d.at_risk, true);
  }

  function renderRun(root, d) {
    var m = d.meta || {};
    var grid = section(root, "run", "Run", null);
    var rows = [];
    function add(k, v) { if (v !== undefined && v !== null && v !== "") rows.push({ k: k, v: String(v) }); }
    add("input", m.source);
    add("run", m.run_id);
    var g = m.ingest || {};
    add("rows read", isNum(g.rows_read) ? fmtInt(g.rows_read) : null);
    add("rows accepted", isNum(g.rows_accepted) ? fmtInt(g.rows_accepted) : null);
    add("rows rejected", isNum(g.rows_rejected) ? fmtInt(g.rows_rejected) : null);
    add("identical rows", isNum(g.identical_rows) ? fmtInt(g.identical_rows) : null);
    add("refund rows", isNum(g.refunds) ? fmtInt(g.refunds) : null);
    add("columns", g.customer_col ? [g.customer_col, g.date_col, g.amount_col].join(", ") : null);
    add("observation end", m.end);
    add("calibration end", m.calibration_end);
    add("period", isNum(m.period_days) ? m.period_days + " days" : null);
    add("horizon", m.has_model && isNum(m.horizon_periods) ? fmtNum(m.horizon_periods) + " periods" : null);
    add("wall time", isNum(m.seconds) ? m.seconds.toFixed(2) + " s" : null);
    if (m.params) Object.keys(m.params).forEach(function (k) { var v = m.params[k]; add("parameter " + k, typeof v === "object" ? JSON.stringify(v) : v); });
    table(grid, "Run metadata", [{ key: "k", label: "item" }, { key: "v", label: "value" }], rows);
    if (m.timings_ms) {
      var ks = Object.keys(m.timings_ms);
      chart(grid, "Time per step", null, {
        type: "bar",
        data: { labels: ks, datasets: [{ label: "milliseconds", data: ks.map(function (k) { return m.timings_ms[k]; }), backgroundColor: OKABE_ITO[2] }] },
        options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: axis("milliseconds", { beginAtZero: true }), y: axis("step") } }
      });
    }
    if (m.events && m.events.length)
      table(grid, "Event log", [{ key: "ts", label: "time" }, { key: "level", label: "level" }, { key: "step", label: "step" },
        { key: "message", label: "message" }, { key: "duration_ms", label: "ms", num: 1, fmt: function (v) { return isNum(v) ? fmtInt(v) : ""; } }], m.events, true);
    if (m.rejects && m.rejects.length)
      table(grid, "First rejected rows", [{ key: "line", label: "line", num: 1 }, { key: "column", label: "column", num: 1 },
        { key: "field", label: "field" }, { key: "reason", label: "reason" }], m.rejects, true);
  }

  /* ------------------------------------------------------------ entry */

  function render(root, data) {
    charts = [];
    while (root.firstChild) root.removeChild(root.firstChild);
    if (!data || data.format !== "tessera-report") {
      root.appendChild(el("p", { class: "tsr-notice", text: "Not a tessera report data object." }));
      return [];
    }
    if (global.Chart) {
      global.Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
      global.Chart.defaults.color = "#222";
    }
    [renderHeader, renderKpis, renderSegments, renderFeatures, renderRfm, renderClusters, renderModels, renderCustomers, renderRun, renderGlossary]
      .forEach(function (f) { f(root, data); });
    var mine = charts; /* this render's charts (render may be called again) */
    if (global.addEventListener) {
      global.addEventListener("beforeprint", function () { mine.forEach(function (c) { c.resize(); }); });
      global.addEventListener("afterprint", function () { mine.forEach(function (c) { c.resize(); }); });
    }
    root.setAttribute("data-rendered", String(mine.length));
    return mine;
  }

  global.TesseraReport = { render: render, version: 1 };
})(typeof window !== "undefined" ? window : this);
