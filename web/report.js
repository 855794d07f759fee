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

  /* Units of this report (set by render from meta): the currency of the
   * amounts (ISO 4217 code, or "amount units" when the data does not say)
   * and the model's time period (day, week or month). */
  var U = { cur: null, money: "amount units", period: "period", periods: "periods", pd: NaN };
  function setUnits(m) {
    U.cur = typeof m.currency === "string" && /^[A-Z]{3}$/.test(m.currency) ? m.currency : null;
    U.money = U.cur || "amount units";
    var pd = m.period_days;
    U.pd = pd;
    if (pd === 1) { U.period = "day"; U.periods = "days"; }
    else if (pd === 7) { U.period = "week"; U.periods = "weeks"; }
    else if (isNum(pd) && pd >= 28 && pd <= 31.5) { U.period = "month"; U.periods = "months"; }
    else if (isNum(pd)) { U.period = "period of " + fmtNum(pd) + " days"; U.periods = "periods of " + fmtNum(pd) + " days"; }
    else { U.period = "period"; U.periods = "periods"; }
  }
  /* A money value with its currency code ("1,234.56 EUR"); without a known
   * currency the label carries "(amount units)" instead. */
  function fmtMoneyU(v) { return isNum(v) ? fmtMoney(v) + (U.cur ? " " + U.cur : "") : "n/a"; }
  function moneyLabel(label) { return label + " (" + U.money + ")"; }
  function periodsLabel(label) { return label + " (" + U.periods + ")"; }

  /* ------------------------------------------------------------ contrast (WCAG 2.1) */

  function rgbOf(c) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c);
    if (m) return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
    m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(c);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
  }
  /* Relative luminance and contrast ratio as WCAG 2.1 defines them. */
  function luminance(c) {
    var v = rgbOf(c).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  /* Text colour and background pairs of report.css and the charts: each must
   * reach 4.5:1 (WCAG AA, normal text); tested in tests/browser/report_contrast. */
  var TEXT_PAIRS = [
    ["#222222", "#ffffff", "body text, chart labels and ticks"],
    ["#555555", "#ffffff", "sub-title, captions, KPI labels"],
    ["#444444", "#ffffff", "section intros, colour-scale labels"],
    ["#0072B2", "#ffffff", "navigation links"],
    ["#222222", "#fff4e0", "notices"],
    ["#222222", "#f4f6f8", "table headers"],
    ["#222222", "#fafafa", "striped table rows"],
    ["#333333", "#ffffff", "chart annotations"],
    ["#555555", "#fafafa", "captions on striped rows"]
  ];
  /* Line and bar colours of the SVG charts: graphical objects need 3:1
   * against the white plot (WCAG 1.4.11). */
  var SERIES = ["#0072B2", "#D55E00", "#009E73", "#000000", "#CC79A7", "#666666"];
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
  /* Label colour on a cell: black or white, whichever contrasts more (at
   * least 4.58:1 on any colour). */
  function textOn(bg) {
    if (!rgbOf(bg)) return "#000000";
    return contrast(bg, "#000000") >= contrast(bg, "#ffffff") ? "#000000" : "#ffffff";
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
    columns.forEach(function (c) {
      var th = el("th", { text: c.label, class: c.num ? "num" : "" });
      var tip = c.tip && glossaryText(c.tip);
      if (tip) th.setAttribute("title", tip);
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      columns.forEach(function (c) {
        var td = el("td", { class: c.num ? "num" : c.wrap ? "tsr-wrap" : "", text: c.fmt ? c.fmt(r[c.key], r) : (r[c.key] === null || r[c.key] === undefined ? "" : String(r[c.key])) });
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
    /* the values as a table for screen readers (and tests), visually hidden */
    if (xLabels.length * yLabels.length <= 1200) {
      var rows = yLabels.map(function (yl, i) {
        var o = { y: yl };
        xLabels.forEach(function (xl, j) { o["c" + j] = m[i] ? m[i][j] : null; });
        return o;
      });
      var t = el("table", { class: "tsr-sr-only" + (opts.cls ? " " + opts.cls : "") });
      var hr = el("tr", {}, [el("th", { text: (opts.yName || "") + " \\ " + (opts.xName || "") })]);
      xLabels.forEach(function (xl) { hr.appendChild(el("th", { text: String(xl) })); });
      t.appendChild(el("thead", {}, [hr]));
      var tb = el("tbody");
      rows.forEach(function (r, i) {
        var tr = el("tr", {}, [el("th", { text: String(r.y) })]);
        xLabels.forEach(function (xl, j) {
          var v = r["c" + j];
          tr.appendChild(el("td", { text: isNum(v) ? fmt(v) : "", "data-row": String(yLabels[i]), "data-col": String(xl), "data-value": isNum(v) ? String(v) : "" }));
        });
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      fig.appendChild(t);
    }
    return c;
  }

  /* ------------------------------------------------------------ sections */

  var KPI_LIST = [
    ["customers", "Customers", fmtInt],
    ["transactions", "Purchases", fmtInt],
    ["visits", "Visits (active days)", fmtInt],
    ["revenue", "Revenue", fmtMoneyU],
    ["top20_revenue_share", "Revenue from top 20%", fmtPct],
    ["repeat_share", "Bought again", fmtPct],
    ["churn_rate", "Churn rate", fmtPct],
    ["mean_p_alive", "Mean P(alive)", fmtNum],
    ["clv_total", "Total CLV", fmtMoneyU],
    ["clv_mean", "Mean CLV", fmtMoneyU],
    ["first_purchase", "First purchase", String],
    ["last_purchase", "Last activity", String]
  ];

  /* Plain-language meaning of every term the report uses (tooltips of the
   * key figures and the glossary at the end). */
  var GLOSSARY = [
    ["CLV", "Customer lifetime value: the spend a customer is expected to bring over the CLV horizon (12 months unless chosen otherwise), discounted by 1% per month, from the purchase and spend models; in the currency of the amounts (or amount units)."],
    ["P(alive)", "The probability that a customer is still active (has not left for good) at the end of the data, given how often and how recently they bought."],
    ["Churn rate", "The share of customers whose P(alive) is below the churn threshold (0.5 unless chosen otherwise): those the model thinks have left."],
    ["RFM", "Recency, frequency, monetary value: each customer is scored 1 to 5 on how recently they bought, how often, and how much they spent; the segments are named from these scores."],
    ["Recency", "Time between a customer's first and last purchase; the time since the last purchase is T minus recency."],
    ["T", "A customer's age: the time from their first purchase to the end of the data."],
    ["Frequency", "The number of repeat purchases (days with a purchase after the first one)."],
    ["BG/NBD", "Beta-geometric/negative binomial model: while active a customer buys at random at a personal rate; after each purchase they may leave for good. One-time buyers can never leave in it."],
    ["MBG/NBD", "Modified BG/NBD: as BG/NBD, but a customer may also leave right after the first purchase, so one-time buyers can churn."],
    ["Pareto/NBD", "A customer buys at random at a personal rate and leaves at a random time with a personal rate; one-time buyers can churn."],
    ["Gamma-Gamma", "The spend model: each customer's average purchase value varies around a personal mean."],
    ["Amount units", "The unit of the amounts when the data does not name its currency (no --currency option and no currency column holding one code): the amounts are shown as they are in the file."],
    ["Time unit", "The period in which frequency, recency, T and the model's rates are counted: a day, a week (7 days, the default) or a month."],
    ["Mean spend", "In the R × F grid: the sum of each customer's purchases over the whole data period, averaged over the customers of the cell."],
    ["Model parameters", "r and α: the purchase rate of active customers varies between customers as a Gamma distribution with shape r and scale 1/α (mean r/α per period). a and b: the chance of leaving after a purchase varies as a Beta(a, b) distribution (mean a/(a+b)). s and β: the dropout rate varies as a Gamma(s, β) distribution (Pareto/NBD). p, q and γ: Gamma-Gamma spend model; the mean purchase value over customers is p·γ/(q−1)."],
    ["Segment profile", "The size, revenue, CLV, age, digital share, sentiment and most-held products of a segment of the multi-source profiles."],
    ["Life stage", "Student, young adult, family, established, pre-retirement or retired: from age and product events by documented rules (docs/profiles.md)."],
    ["Value tier", "Top, high, medium or low by CLV."],
    ["Product affinity", "Clusters of the customers' product ownership: who holds similar products."],
    ["Micro-segment", "The combination of behavioural segment, value tier and life stage, small cells merged up to a minimum size."],
    ["Digital share", "The share of a customer's transactions made through digital channels (web, mobile)."],
    ["Sentiment", "The tone of a customer's service interactions, from −1 (negative) to +1 (positive), by a lexicon scorer."],
    ["Records merged", "CRM records that entity resolution found to be the same person as another record; their data is counted under one customer id."],
    ["Household", "People with the same surname and address who are different persons: linked as a household, never merged."],
    ["Anomaly", "A transaction far from the customer's own habits (amount, hour, merchant category, bursts): flagged, never dropped."],
    ["Rejected row", "An input row that could not be read (bad date, amount, missing field...); it is left out of every figure and listed with its file, line and reason."],
    ["Churn probability", "The calibrated probability that a customer makes no purchase (and opens or closes nothing) in the window after the scoring date, from the gradient-boosting churn model."],
    ["AUC", "Area under the ROC curve: the chance that a random churner is ranked above a random non-churner (0.5 = random, 1 = perfect)."],
    ["ROC curve", "The true-positive rate (churners caught) against the false-positive rate (stayers flagged) as the score threshold falls."],
    ["PR-AUC", "Area under the precision-recall curve (average precision): how pure the flagged customers stay as more churners are caught; compare with the churn rate."],
    ["Brier score", "The mean squared difference between the predicted probability and what happened (0 or 1); lower is better."],
    ["Log loss", "The mean negative log-likelihood of what happened under the predicted probabilities; lower is better."],
    ["Lift", "The churn rate among the customers ranked highest by a score (the top 10%, or each tenth) divided by the overall churn rate; 1 = no better than random."],
    ["Calibration (reliability)", "Whether predicted probabilities mean what they say: in each bin of the prediction, the observed churn rate against the mean prediction."],
    ["Feature importance", "The mean absolute SHAP contribution of a feature to the churn score (in log-odds): how much it moves the predictions on average."],
    ["Baseline: 1 − P(alive)", "The purchase model's chance that a customer has left, used as a churn score to compare the churn model with."],
    ["Baseline: P(no purchase)", "The purchase model's probability of no purchase in the evaluation window, used as a churn score."],
    ["Next-best-product score", "The blended score of a product for a customer (collaborative filtering, matrix factorisation and a propensity model, docs/predict.md); higher ranks first; comparable within a customer, not a probability."],
    ["Regret", "The expected responses lost against always making each customer's best offer; the cumulative regret of a policy that learns grows more slowly over time."],
    ["Offer mix", "The share of each offer among the decisions a policy made for the customers of a segment."],
    ["Thompson sampling", "Chooses each offer with the probability that it is the best, drawn from the response rates learnt so far per segment."],
    ["LinUCB", "A linear model of the response on the customer's profile features; chooses the offer with the highest upper confidence bound."],
    ["Linear Thompson sampling", "A linear model of the response on the profile features; chooses the offer that is best under a random draw of the model."],
    ["Epsilon-greedy", "Makes the best offer so far, and a random one with probability ε."],
    ["Uniform random", "Chooses every offer with equal probability: the baseline that does not learn."],
    ["Confidence interval", "The range that covers the true difference with the stated confidence (95% unless chosen otherwise)."],
    ["p-value", "The probability of a difference at least this large if the treatment had no effect (two-proportion z test for responses, Welch t test for amounts)."],
    ["Adjusted p-value", "A segment's p-value corrected for testing many segments at once (Holm or Benjamini-Hochberg)."],
    ["Relative lift", "The difference divided by the control group's rate or mean."],
    ["Power", "The chance that a test of this size detects the effect the experiment was planned for."],
    ["CUPED", "Variance reduction with each customer's pre-period spend: the same effect, a narrower interval."],
    ["Sample ratio check", "A χ² test that the groups' sizes match the planned split; a failure means the assignment went wrong."]
  ];
  function glossaryText(term) {
    for (var i = 0; i < GLOSSARY.length; i++) if (GLOSSARY[i][0] === term) return GLOSSARY[i][1];
    return null;
  }
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
     ["models", "Models"], ["profiles", "Profiles", d.segment_profiles], ["quality", "Data quality", d.data_quality],
     ["churn", "Churn", d.churn], ["nbp", "Next best product", d.next_best_product], ["offers", "Offers", d.offers], ["decisions", "Offers served", d.decisions], ["experiment", "Experiments", d.experiment],
     ["customers", "Customers"], ["run", "Run"], ["glossary", "Glossary"]].forEach(function (s) {
      if (s.length > 2 && !s[2]) return; /* a section without its data: no link */
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
        el("div", { class: "tsr-kpi-label", text: x[2] === fmtMoneyU && !U.cur ? moneyLabel(x[1]) : x[1] })
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
      { key: "revenue", label: moneyLabel("revenue"), num: 1, fmt: fmtMoney },
      { key: "revenue_share", label: "rev. share", num: 1, fmt: fmtPct },
      { key: "churn_rate", label: "churn rate", num: 1, fmt: fmtPct, tip: "Churn rate" },
      { key: "clv_mean", label: moneyLabel("mean CLV"), num: 1, fmt: fmtMoney, tip: "CLV" },
      { key: "clv_total", label: moneyLabel("total CLV"), num: 1, fmt: fmtMoney, tip: "CLV" },
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

  var HIST_UNITS = { recency: "periods", T: "periods", monetary_value: "money", revenue: "money", clv: "money" };
  function histChart(grid, h, key) {
    var labels = [], n = h.counts.length;
    for (var i = 0; i < n; i++) labels.push(fmtCompact(h.edges[i]) + "–" + fmtCompact(h.edges[i + 1]));
    if (h.integer) /* counts: whole-number bins "3" or "3–5" (both ends included) */
      labels = h.counts.map(function (_, i) {
        var lo = Math.round(h.edges[i] + 0.5), hi = Math.round(h.edges[i + 1] - 0.5);
        return lo === hi ? String(lo) : lo + "–" + hi;
      });
    var unit = HIST_UNITS[key], label = unit === "money" ? moneyLabel(h.label) : unit === "periods" ? periodsLabel(h.label) : h.label;
    chart(grid, "Distribution of " + label, (h.log ? "Bins equal on a log(1 + x) scale (skewed data). " : "") + (h.integer ? "Whole-number bins: both ends included." : ""), {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "customers", data: h.counts, backgroundColor: OKABE_ITO[4], borderColor: OKABE_ITO[0], borderWidth: 1, barPercentage: 1, categoryPercentage: 1 }] },
      options: { plugins: { legend: { display: false } },
        scales: { x: axis(label + (h.log ? ", log1p bins" : "")), y: axis("customers", { beginAtZero: true }) } }
    });
  }

  function renderFeatures(root, d) {
    var grid = section(root, "features", "Feature relations", "Distributions of the per-customer features and how they relate.");
    var dist = d.distributions || {};
    Object.keys(dist).forEach(function (k) { if (dist[k].counts && dist[k].counts.length) histChart(grid, dist[k], k); });
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
          options: { plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) { return "frequency " + c.parsed.x + ", monetary " + fmtMoneyU(c.parsed.y); } } } },
            scales: { x: axis(periodsLabel("frequency: repeat purchase"), { type: "logarithmic" }), y: axis(moneyLabel("monetary value"), { type: "logarithmic" }) } }
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
    if (r.mean_spend)
      heatmap(grid, "Mean spend per customer in each R × F cell (" + U.money + ")",
        "Spend: the sum of a customer's purchases over the whole data period (refunds as chosen), averaged over the customers of the cell.",
        fl, rl, r.mean_spend, { xName: "F score", yName: "R score", reverseY: true, fmt: fmtCompact, cls: "tsr-rf-spend" });
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

  /* What a fitted parameter means for this data, in words (docs/models.md). */
  function spread(shape, what) {
    return shape < 1 ? what + " varies strongly between customers (shape " + fmtNum(shape) + " < 1: many rare, a few very frequent)"
      : shape < 3 ? what + " varies moderately between customers (shape " + fmtNum(shape) + ")"
      : what + " is similar for most customers (shape " + fmtNum(shape) + ")";
  }
  function paramWords(kind, name, P) {
    var per = U.period, pdays = U.pd;
    var perYear = function (rate) { return isNum(pdays) && pdays > 0 ? " (" + fmtNum(rate * 365.25 / pdays) + " a year)" : ""; };
    if (kind === "gg") {
      if (name === "p") return "Shape of the values of one customer's purchases: " + (P.p >= 5 ? "a customer's purchases are similar in value" : "a customer's purchases vary in value") + " (coefficient of variation 1/√p = " + fmtNum(1 / Math.sqrt(P.p)) + ").";
      if (name === "q") return spread(P.q, "The average purchase value") + (P.q > 1 ? "; mean purchase value over customers p·γ/(q−1) = " + fmtMoneyU(P.p * P.gamma / (P.q - 1)) + "." : "; q ≤ 1: the mean purchase value is not defined.");
      if (name === "gamma") return "Scale of the average purchase values (" + U.money + "): with p and q it sets the mean purchase value p·γ/(q−1).";
      return "";
    }
    if (kind === "bgbb") return "";
    if (name === "r") return spread(P.r, "The purchase rate") + ".";
    if (name === "alpha") return "Scale of the purchase rate: an active customer buys r/α = " + fmtNum(P.r / P.alpha) + " times per " + per + " on average" + perYear(P.r / P.alpha) + ".";
    if (name === "a" && isNum(P.b)) return "With b: after each purchase a customer leaves for good with probability a/(a+b) = " + fmtPct(P.a / (P.a + P.b)) + " on average" + (kind === "mbgnbd" ? " (also right after the first purchase)" : "") + ".";
    if (name === "b") return (P.a + P.b < 2 ? "a + b = " + fmtNum(P.a + P.b) + " < 2: the chance of leaving differs strongly between customers." : "a + b = " + fmtNum(P.a + P.b) + ": most customers have a similar chance of leaving.");
    if (name === "s") return spread(P.s, "The dropout rate") + ".";
    if (name === "beta") return "Scale of the dropout rate: customers leave at s/β = " + fmtNum(P.s / P.beta) + " per " + per + " on average, a mean active lifetime of about β/s = " + fmtNum(P.beta / P.s) + " " + U.periods + ".";
    return "";
  }

  var MODEL_NAMES = { bgnbd: "BG/NBD", mbgnbd: "MBG/NBD", pnbd: "Pareto/NBD", bgbb: "BG/BB", gg: "Gamma-Gamma" };
  function modelName(k) { return MODEL_NAMES[k] || k; }
  function renderModels(root, d) {
    var m = d.model;
    if (!m) return;
    var grid = section(root, "models", "Purchase and spend models", "Fitted " + modelName(m.kind) + (d.meta && d.meta.has_spend ? " and Gamma-Gamma" : "") +
      " (log-likelihood " + fmtNum(m.loglik) + ", " + (m.converged ? "converged" : "NOT converged") + " in " + m.iterations + " iterations).");
    var byModel = {};
    (m.params || []).forEach(function (p) { (byModel[p.model] = byModel[p.model] || {})[p.name] = p.value; });
    var prow = (m.params || []).map(function (p) {
      return { model: modelName(p.model), name: p.name, value: p.value, se: p.se, words: paramWords(p.model, p.name, byModel[p.model]) };
    });
    table(grid, "Parameters (time in " + U.periods + ", amounts in " + U.money + ")", [{ key: "model", label: "model" }, { key: "name", label: "parameter" },
      { key: "value", label: "estimate", num: 1, fmt: fmtNum }, { key: "se", label: "std. error", num: 1, fmt: fmtNum },
      { key: "words", label: "what it means for this data", wrap: 1 }], prow, true);
    var fr = m.frequency_recency;
    if (fr) {
      var rec = fr.recency.map(function (v) { return fmtCompact(v); }), fq = fr.frequency.map(String);
      heatmap(grid, "Expected purchases in the next " + fmtNum(fr.t) + " " + U.periods, "By frequency and recency, for a customer of age T = " + fmtNum(fr.T) + " " + U.periods + " (lifetimes' frequency/recency matrix).",
        rec, fq, fr.expected, { xName: periodsLabel("recency"), yName: "repeat purchases", reverseY: true });
      heatmap(grid, "Probability that the customer is alive", "By frequency and recency at T = " + fmtNum(fr.T) + " " + U.periods + ".",
        rec, fq, fr.p_alive, { xName: periodsLabel("recency"), yName: "repeat purchases", reverseY: true, min: 0, max: 1, fmt: function (v) { return v.toFixed(2); } });
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
      { key: "frequency", label: "repeat purchases", num: 1, fmt: fmtNum, tip: "Frequency" }, { key: "revenue", label: moneyLabel("revenue"), num: 1, fmt: fmtMoney },
      { key: "last_purchase", label: "last purchase" }, { key: "p_alive", label: "P(alive)", num: 1, fmt: fmtNum, tip: "P(alive)" },
      { key: "expected_purchases", label: "expected purchases", num: 1, fmt: fmtNum },
      { key: "clv", label: moneyLabel("CLV"), num: 1, fmt: fmtMoney, tip: "CLV" },
      { key: "clv_lo", label: moneyLabel("CLV interval"), num: 1, fmt: function (v, r) { return isNum(r.clv_lo) ? fmtMoney(r.clv_lo) + " – " + fmtMoney(r.clv_hi) : "n/a"; } }];
    if (d.top_customers) table(grid, "Top customers by " + (d.top_customers_by === "clv" ? "CLV" : "revenue"), cols, d.top_customers, true);
    if (d.at_risk) table(grid, "Most at risk: high value, low P(alive)", cols.concat([{ key: "revenue_at_risk", label: moneyLabel("revenue × (1 − P(alive))"), num: 1, fmt: fmtMoney }]), d.at_risk, true);
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
    add("time unit", isNum(m.period_days) ? U.period + " (" + fmtNum(m.period_days) + " days)" : null);
    add("horizon", m.has_model && isNum(m.horizon_periods) ? fmtNum(m.horizon_periods) + " " + U.periods + (isNum(m.period_days) ? " (" + fmtNum(m.horizon_periods * m.period_days / 30.4375) + " months)" : "") : null);
    add("currency", U.cur ? U.cur + (m.currency_source === "column" ? " (from the data's currency column)" : " (given with --currency)") : "not known: amounts are shown in amount units (give --currency)");
    (m.notes || []).forEach(function (n) { add("note", n); });
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

  /* ------------------------------------------------------------ SVG charts */

  /* Charts of the sections below are drawn as inline SVG (no library):
   * spec = { xLabel, yLabel, xMin, xMax, yMin, yMax, series: [{ name,
   * points: [[x, y], ...], color, dash, dots }], diagonal, refY, xFmt,
   * yFmt, tip(point, series) }. Each point carries a <title> tooltip. */
  var SVGNS = "http://www.w3.org/2000/svg";
  var svgCount = 0;
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n))), err = (hi - lo) / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var t = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return t;
  }
  function svgFigure(grid, title, caption, wide, cls) {
    var fig = el("figure", { class: "tsr-figure" + (wide ? " tsr-wide" : "") + (cls ? " " + cls : "") });
    fig.appendChild(el("figcaption", { class: "tsr-fig-title", text: title }));
    grid.appendChild(fig);
    fig._caption = caption;
    return fig;
  }
  function svgFinish(fig, svg, legend) {
    fig.appendChild(svg);
    if (legend && legend.length > 1) {
      var lg = el("div", { class: "tsr-legend" });
      legend.forEach(function (s) {
        var sw = el("span", { class: "tsr-swatch" });
        sw.style.background = s.color;
        lg.appendChild(el("span", {}, [sw, document.createTextNode(s.name)]));
      });
      fig.appendChild(lg);
    }
    if (fig._caption) fig.appendChild(el("p", { class: "tsr-caption", text: fig._caption }));
    svgCount++;
  }
  function lineChart(grid, title, caption, spec, wide) {
    var fig = svgFigure(grid, title, caption, wide, spec.cls);
    var W = wide ? 1040 : 520, H = 300, L = 62, R = 14, T = 12, B = 46; /* wide: same text size */
    var xs = [], ys = [];
    spec.series.forEach(function (s) { s.points.forEach(function (p) { if (isNum(p[0]) && isNum(p[1])) { xs.push(p[0]); ys.push(p[1]); } }); });
    if (spec.refY !== undefined) ys.push(spec.refY);
    var x0 = spec.xMin !== undefined ? spec.xMin : Math.min.apply(null, xs), x1 = spec.xMax !== undefined ? spec.xMax : Math.max.apply(null, xs);
    var y0 = spec.yMin !== undefined ? spec.yMin : Math.min(0, Math.min.apply(null, ys)), y1 = spec.yMax !== undefined ? spec.yMax : Math.max.apply(null, ys);
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) y1 = y0 + 1;
    var X = function (v) { return L + (v - x0) / (x1 - x0) * (W - L - R); };
    var Y = function (v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); };
    var xf = spec.xFmt || fmtCompact, yf = spec.yFmt || fmtCompact;
    var svg = sv("svg", { class: "tsr-svg", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
    svg.appendChild(sv("title", {}, title));
    var g = sv("g", { class: "tsr-grid" }), ax = sv("g", { class: "tsr-axis" });
    niceTicks(y0, y1, 5).forEach(function (v) {
      g.appendChild(sv("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v) }));
      ax.appendChild(sv("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, yf(v)));
    });
    niceTicks(x0, x1, wide ? 10 : 6).forEach(function (v) {
      ax.appendChild(sv("line", { x1: X(v), x2: X(v), y1: H - B, y2: H - B + 4 }));
      ax.appendChild(sv("text", { x: X(v), y: H - B + 16, "text-anchor": "middle" }, xf(v)));
    });
    ax.appendChild(sv("path", { d: "M" + L + "," + T + "V" + (H - B) + "H" + (W - R), fill: "none" }));
    ax.appendChild(sv("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, spec.xLabel || ""));
    ax.appendChild(sv("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, spec.yLabel || ""));
    svg.appendChild(g);
    svg.appendChild(ax);
    if (spec.diagonal) svg.appendChild(sv("line", { x1: X(Math.max(x0, y0)), y1: Y(Math.max(x0, y0)), x2: X(Math.min(x1, y1)), y2: Y(Math.min(x1, y1)), stroke: "#666666", "stroke-dasharray": "4 4" }));
    if (spec.refY !== undefined) svg.appendChild(sv("line", { x1: L, x2: W - R, y1: Y(spec.refY), y2: Y(spec.refY), stroke: "#666666", "stroke-dasharray": "4 4" }));
    spec.series.forEach(function (s, i) {
      var col = s.color || SERIES[i % SERIES.length];
      s.color = col;
      var pts = s.points.filter(function (p) { return isNum(p[0]) && isNum(p[1]); });
      if (!s.dotsOnly && pts.length > 1)
        svg.appendChild(sv("path", { class: "tsr-series", "data-series": s.name, d: pts.map(function (p, k) { return (k ? "L" : "M") + X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1); }).join(""),
          fill: "none", stroke: col, "stroke-width": 2, "stroke-dasharray": s.dash || "none" }));
      if (s.dots || s.dotsOnly || pts.length === 1)
        pts.forEach(function (p) {
          var c = sv("circle", { cx: X(p[0]), cy: Y(p[1]), r: s.r || 3.5, fill: col, "data-x": String(p[0]), "data-y": String(p[1]) });
          c.appendChild(sv("title", {}, spec.tip ? spec.tip(p, s) : s.name + ": " + xf(p[0]) + ", " + yf(p[1])));
          svg.appendChild(c);
        });
    });
    svgFinish(fig, svg, spec.series);
    return fig;
  }
  /* Horizontal bars: items [{label, value, tip}], value >= 0. */
  function barChart(grid, title, caption, items, spec) {
    spec = spec || {};
    var fig = svgFigure(grid, title, caption, spec.wide, spec.cls);
    var W = 520, rowH = 20, L = Math.min(240, 20 + 6.8 * Math.max.apply(null, items.map(function (i) { return String(i.label).length; }))), R = 70, T = 6;
    var H = T + rowH * items.length + 30;
    var mx = Math.max.apply(null, items.map(function (i) { return isNum(i.value) ? i.value : 0; })) || 1;
    var svg = sv("svg", { class: "tsr-svg", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
    svg.appendChild(sv("title", {}, title));
    items.forEach(function (it, k) {
      var y = T + k * rowH, w = isNum(it.value) ? it.value / mx * (W - L - R) : 0;
      svg.appendChild(sv("text", { x: L - 6, y: y + 14, "text-anchor": "end" }, String(it.label)));
      var r = sv("rect", { x: L, y: y + 3, width: Math.max(0, w).toFixed(1), height: rowH - 6, fill: spec.color || SERIES[0], "data-value": String(it.value) });
      r.appendChild(sv("title", {}, it.tip || it.label + ": " + (spec.fmt || fmtNum)(it.value)));
      svg.appendChild(r);
      svg.appendChild(sv("text", { x: L + w + 4, y: y + 14 }, (spec.fmt || fmtNum)(it.value)));
    });
    svg.appendChild(sv("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle" }, spec.xLabel || ""));
    svgFinish(fig, svg, null);
    return fig;
  }

  /* ------------------------------------------------------------ profiles, data quality (issue 12) */

  var KIND_NAMES = { behaviour: "Behavioural segments", value_tier: "Value tiers (by CLV)", life_stage: "Life stages",
    affinity: "Product-affinity segments", micro: "Micro-segments" };
  function renderProfiles(root, d) {
    var sp = d.segment_profiles;
    if (!sp || !sp.columns || !sp.rows || !sp.rows.length) return;
    var grid = section(root, "profiles", "Segment profiles", "Each segment of the multi-source profiles: size, revenue, CLV, age, digital share, sentiment and the products most held (segment_profiles.csv). Revenue and CLV in " + U.money + ".");
    var ci = {};
    sp.columns.forEach(function (c, i) { ci[c] = i; });
    var kinds = [];
    sp.rows.forEach(function (r) { var k = r[ci.kind]; if (kinds.indexOf(k) < 0) kinds.push(k); });
    var cols = [{ key: "segment", label: "segment" }, { key: "customers", label: "customers", num: 1, fmt: fmtInt },
      { key: "share", label: "share", num: 1, fmt: fmtPct }, { key: "revenue", label: moneyLabel("revenue"), num: 1, fmt: fmtMoney },
      { key: "clv_mean", label: moneyLabel("mean CLV"), num: 1, fmt: fmtMoney, tip: "CLV" }, { key: "age_mean", label: "mean age (years)", num: 1, fmt: fmtNum },
      { key: "digital_share", label: "digital share", num: 1, fmt: fmtPct, tip: "Digital share" },
      { key: "sentiment_mean", label: "mean sentiment (−1…1)", num: 1, fmt: fmtNum, tip: "Sentiment" },
      { key: "p_alive_mean", label: "mean P(alive)", num: 1, fmt: fmtNum, tip: "P(alive)" },
      { key: "top_products", label: "products most held" }];
    kinds.forEach(function (k) {
      var rows = sp.rows.filter(function (r) { return r[ci.kind] === k; }).map(function (r) {
        var o = {};
        sp.columns.forEach(function (c, i) { o[c] = r[i]; });
        if (typeof o.top_products === "string") o.top_products = o.top_products.split(";").join(", ");
        return o;
      });
      if (k === "life_stage" || k === "value_tier")
        barChart(grid, "Customers by " + (k === "life_stage" ? "life stage" : "value tier"), null,
          rows.map(function (r) { return { label: r.segment, value: r.customers, tip: r.segment + ": " + fmtInt(r.customers) + " customers, revenue " + fmtMoneyU(r.revenue) }; }),
          { fmt: fmtInt, xLabel: "customers", cls: "tsr-profile-bars" });
      table(grid, KIND_NAMES[k] || k, cols, rows, true, function (r, c) { return { "data-kind": k, "data-segment": r.segment, "data-col": c.key }; });
    });
    if (sp.truncated) grid.appendChild(el("p", { class: "tsr-caption tsr-wide", text: "The first " + sp.rows.length + " segments are shown." }));
  }

  function renderDataQuality(root, d) {
    var q = d.data_quality;
    if (!q) return;
    var grid = section(root, "quality", "Data quality", "What was read, merged, flagged and rejected. Rejected rows are never used; anomalies are flagged, never dropped.");
    var rows = [];
    function add(k, v, tip) { if (isNum(v) && v >= 0) rows.push({ k: k, v: v, tip: tip }); }
    add("CRM records read", q.crm_records);
    add("records merged into another record (same person)", q.records_merged, "Records merged");
    add("households of two or more persons", q.households, "Household");
    add("persons linked to a household", q.household_links, "Household");
    add("transactions scored for anomalies", q.transactions_scored);
    add("transactions flagged as anomalies", q.anomalies_flagged, "Anomaly");
    add("rows rejected (all tables)", q.rows_rejected, "Rejected row");
    add("transaction rows rejected", q.transactions_rejected, "Rejected row");
    table(grid, "Records and resolution", [{ key: "k", label: "item" }, { key: "v", label: "count", num: 1, fmt: fmtInt }], rows, false,
      function (r, c) { return c.key === "v" ? { "data-dq": r.k } : null; });
    var sum = el("dl", { class: "tsr-dl" });
    function line(k, v) { sum.appendChild(el("dt", { text: k })); sum.appendChild(el("dd", { text: v })); }
    if (isNum(q.crm_records) && q.crm_records > 0) line("merged", fmtPct(q.records_merged / q.crm_records) + " of the CRM records were duplicates of another record");
    if (isNum(q.households) && q.households >= 0) line("households", fmtInt(q.households) + " households, " + fmtInt(q.household_links) + " persons linked (not merged: different people)");
    if (isNum(q.transactions_scored) && q.transactions_scored > 0) line("anomalies", fmtPct(q.anomalies_flagged / q.transactions_scored) + " of the transactions flagged");
    var fig = el("figure", { class: "tsr-figure" }, [el("figcaption", { class: "tsr-fig-title", text: "Resolution summary" }), sum]);
    grid.appendChild(fig);
    var rr = q.rejects_by_reason || {};
    var rs = Object.keys(rr).map(function (k) { return { reason: k, rows: rr[k] }; }).sort(function (a, b) { return b.rows - a.rows; });
    if (rs.length) table(grid, "Rejected rows by reason", [{ key: "reason", label: "table: field: reason" }, { key: "rows", label: "rows", num: 1, fmt: fmtInt }], rs, true);
    else grid.appendChild(el("p", { class: "tsr-caption tsr-wide", text: "No row of the bundle's tables was rejected." }));
  }

  /* ------------------------------------------------------------ churn (issue 13) */

  var METHOD_NAMES = { xgboost: "churn model (gradient boosting)", btyd_p_alive: "baseline: 1 − P(alive)", btyd_p_zero: "baseline: P(no purchase)" };
  function methodName(k) { return METHOD_NAMES[k] || k; }
  function renderChurn(root, d) {
    var ch = d.churn;
    if (!ch || (!ch.eval && !ch.customers)) return;
    var ev = ch.eval || {};
    var grid = section(root, "churn", "Churn risk", ev.methods ? "The churn model trained on data up to " + (ev.calibration_end || "the calibration end") +
      " and checked on the " + fmtInt(ev.window_days) + " days after it (" + fmtInt(ev.n_test) + " test customers, " + fmtPct(ev.churn_rate) +
      " churned), side by side with the P(alive) baselines of the purchase model." : "Churn probability per customer (churn.csv).");
    var ms = ev.methods ? Object.keys(ev.methods) : [];
    if (ms.length) {
      table(grid, "Evaluation on the later window", [{ key: "name", label: "method" }, { key: "auc", label: "AUC", num: 1, fmt: fmtNum, tip: "AUC" },
        { key: "pr_auc", label: "PR-AUC", num: 1, fmt: fmtNum, tip: "PR-AUC" }, { key: "brier", label: "Brier score", num: 1, fmt: fmtNum, tip: "Brier score" },
        { key: "log_loss", label: "log loss", num: 1, fmt: fmtNum, tip: "Log loss" }, { key: "lift_top10", label: "lift, top 10%", num: 1, fmt: fmtNum, tip: "Lift" }],
        ms.map(function (k) { var m = ev.methods[k] || {}; return { method: k, name: methodName(k), auc: m.auc, pr_auc: m.pr_auc, brier: m.brier, log_loss: m.log_loss, lift_top10: m.lift_top10 }; }),
        true, function (r, c) { return { "data-method": r.method, "data-col": c.key }; });
    }
    var roc = ev.roc;
    if (roc && Object.keys(roc).length)
      lineChart(grid, "ROC curve", "True-positive rate against false-positive rate as the threshold falls; the dashed diagonal is a random guess. AUC in the table above.", {
        xLabel: "false-positive rate", yLabel: "true-positive rate", xMin: 0, xMax: 1, yMin: 0, yMax: 1, diagonal: true, cls: "tsr-churn-roc",
        xFmt: function (v) { return v.toFixed(1); }, yFmt: function (v) { return v.toFixed(1); },
        series: Object.keys(roc).map(function (k) { return { name: methodName(k), points: roc[k] }; })
      });
    var lift = ev.lift;
    if (lift && Object.keys(lift).length)
      lineChart(grid, "Lift by decile", "Churn rate of each tenth of the customers ranked by the score, divided by the overall churn rate; 1 (dashed) = no better than random.", {
        xLabel: "decile of predicted risk (1 = highest)", yLabel: "lift", xMin: 1, xMax: 10, refY: 1, cls: "tsr-churn-lift",
        xFmt: function (v) { return String(Math.round(v)); },
        series: Object.keys(lift).map(function (k) { return { name: methodName(k), points: lift[k].map(function (v, i) { return [i + 1, v]; }), dots: true }; })
      });
    var rel = (ev.reliability || []).filter(function (b) { return b.n > 0 && isNum(b.mean_predicted) && isNum(b.observed); });
    if (rel.length)
      lineChart(grid, "Calibration (reliability)", "Observed churn rate against the mean predicted probability in ten bins of the prediction; on the dashed diagonal the probabilities mean what they say.", {
        xLabel: "mean predicted probability", yLabel: "observed churn rate", xMin: 0, xMax: 1, yMin: 0, yMax: 1, diagonal: true, cls: "tsr-churn-reliability",
        xFmt: function (v) { return v.toFixed(1); }, yFmt: function (v) { return v.toFixed(1); },
        tip: function (p, s) { return "predicted " + fmtPct(p[0]) + ", observed " + fmtPct(p[1]) + " (" + fmtInt(p[2]) + " customers)"; },
        series: [{ name: "churn model", points: rel.map(function (b) { return [b.mean_predicted, b.observed, b.n]; }), dots: true }]
      });
    var imp = ev.importance;
    if (imp && Object.keys(imp).length) {
      var items = Object.keys(imp).filter(function (k) { return isNum(imp[k]); }).map(function (k) { return { label: k, value: imp[k] }; })
        .sort(function (a, b) { return b.value - a.value; }).slice(0, 15);
      barChart(grid, "Feature importance", "Mean absolute SHAP contribution of each feature to the churn score (log-odds), over the scored customers.", items,
        { fmt: function (v) { return v.toFixed(3); }, xLabel: "mean |SHAP| (log-odds)", cls: "tsr-churn-importance" });
    }
    var cu = ch.customers;
    if (cu && cu.top && cu.top.length) {
      var rows = cu.top.map(function (r) { return { customer_id: r[0], p: r[1], r1: r[2], r2: r[3], r3: r[4] }; });
      table(grid, "Highest churn risk, with reasons (" + fmtInt(cu.customers) + " customers scored, mean " + fmtPct(cu.mean_probability) + ")",
        [{ key: "customer_id", label: "customer" }, { key: "p", label: "churn probability", num: 1, fmt: fmtPct, tip: "Churn probability" },
         { key: "r1", label: "reason 1", wrap: 1 }, { key: "r2", label: "reason 2", wrap: 1 }, { key: "r3", label: "reason 3", wrap: 1 }], rows, true);
    }
  }

  /* The first-ranked next best product of each customer (nbp.csv). */
  function renderNextBest(root, d) {
    var nb = d.next_best_product;
    if (!nb || !nb.products || !nb.products.length) return;
    var grid = section(root, "nbp", "Next best product", "The product ranked first for each of " + fmtInt(nb.customers) +
      " customers (nbp.csv): candidates they do not hold and are eligible for, scored by the blend of docs/predict.md.");
    barChart(grid, "Customers by their first-ranked product", null, nb.products.map(function (p) {
      return { label: p.product, value: p.customers, tip: p.product + ": " + fmtInt(p.customers) + " customers (" + fmtPct(p.customers / nb.customers) + ")" };
    }), { fmt: fmtInt, xLabel: "customers", cls: "tsr-nbp-bars" });
    table(grid, "First-ranked products", [{ key: "product", label: "product" }, { key: "customers", label: "customers", num: 1, fmt: fmtInt },
      { key: "share", label: "share", num: 1, fmt: fmtPct }, { key: "mean_score", label: "mean score", num: 1, fmt: fmtNum, tip: "Next-best-product score" },
      { key: "reason", label: "a reason given", wrap: 1 }],
      nb.products.map(function (p) { return { product: p.product, customers: p.customers, share: p.customers / nb.customers, mean_score: p.mean_score, reason: p.reason }; }),
      true, function (r, c) { return { "data-product": r.product, "data-col": c.key }; });
  }

  /* ------------------------------------------------------------ offers and experiments (issue 15) */

  var POLICY_NAMES = { uniform: "uniform random", egreedy: "epsilon-greedy", thompson: "Thompson sampling", linucb: "LinUCB", lints: "linear Thompson sampling" };
  function renderOffers(root, d) {
    var o = d.offers;
    if (!o || !o.policies || !o.policies.length) return;
    var grid = section(root, "offers", "Offer policies", "Bandit policies against the offer simulator (" + fmtInt(o.customers) + " customers, " + fmtInt(o.offers) + " offers, " +
      fmtInt(o.steps) + " decisions, seed " + o.seed + "): regret is the expected responses lost against always making each customer's best offer.");
    lineChart(grid, "Cumulative regret", "Lower is better; a policy that learns bends the curve flat.", {
      xLabel: "decisions", yLabel: "cumulative regret (responses)", xMin: 0, cls: "tsr-offers-regret",
      series: o.policies.map(function (p) { return { name: POLICY_NAMES[p.policy] || p.policy, points: (p.curve || []).map(function (c) { return [c[0], c[2]]; }) }; })
    }, true);
    table(grid, "Policies", [{ key: "name", label: "policy" }, { key: "steps", label: "decisions", num: 1, fmt: fmtInt },
      { key: "reward", label: "responses", num: 1, fmt: fmtInt }, { key: "rate", label: "response rate", num: 1, fmt: fmtPct },
      { key: "best_rate", label: "best possible rate", num: 1, fmt: fmtPct }, { key: "regret", label: "regret", num: 1, fmt: fmtNum, tip: "Regret" },
      { key: "per1000", label: "regret per 1,000", num: 1, fmt: fmtNum }],
      o.policies.map(function (p) { return { policy: p.policy, name: POLICY_NAMES[p.policy] || p.policy, steps: p.steps, reward: p.reward, rate: p.reward / p.steps,
        best_rate: p.best_reward / p.steps, regret: p.regret, per1000: 1000 * p.regret / p.steps }; }), true,
      function (r, c) { return { "data-policy": r.policy, "data-col": c.key }; });
    o.policies.forEach(function (p) {
      if (!p.mix || !p.mix.length) return;
      var offers = p.mix[0].map(function (_, k) { return "O" + (k + 1); });
      var segs = p.mix.map(function (_, q) { return "S" + q; });
      var share = p.mix.map(function (row) { var t = row.reduce(function (a, b) { return a + b; }, 0); return row.map(function (v) { return t ? v / t : null; }); });
      var rows = share.map(function (row, q) { var x = { segment: segs[q] }; row.forEach(function (v, k) { x["o" + k] = v; }); return x; });
      table(grid, "Offer mix per segment: " + (POLICY_NAMES[p.policy] || p.policy), [{ key: "segment", label: "segment" }].concat(offers.map(function (n, k) {
        return { key: "o" + k, label: n, num: 1, fmt: fmtPct };
      })), rows, false, function (r, c) {
        var v = r[c.key];
        if (c.key === "segment" || !isNum(v)) return null;
        return { "data-share": String(v), class: "num tsr-mix" };
      });
    });
    /* colour the mix cells (CSSOM: allowed by the web server's CSP) */
    Array.prototype.forEach.call(grid.querySelectorAll("td.tsr-mix"), function (td) {
      var bg = viridis(Number(td.getAttribute("data-share")));
      td.style.background = bg;
      td.style.color = textOn(bg);
    });
  }

  /* Offers served by `tessera serve` (the store's decisions and rewards). */
  function renderDecisions(root, d) {
    var q = d.decisions;
    if (!q || !q.decisions || !q.segments || !q.offers) return;
    var grid = section(root, "decisions", "Offers served", fmtInt(q.decisions) + " decisions of the decisions API in this store (all runs), " + fmtInt(q.rewarded) +
      " with a reward (" + fmtPct(q.rewarded / q.decisions) + "); policies: " + Object.keys(q.policies || {}).map(function (k) {
        return (POLICY_NAMES[k] || k) + " " + fmtInt(q.policies[k]); }).join(", ") + "." +
      (q.left_out ? " " + fmtInt(q.left_out) + " decisions beyond the first 64 segments or offers are counted in the totals only." : ""));
    var rows = q.segments.map(function (sname, i) {
      var tot = q.count[i].reduce(function (a, b) { return a + b; }, 0), x = { segment: sname, total: tot };
      q.offers.forEach(function (_, j) { x["o" + j] = tot ? q.count[i][j] / tot : null; });
      return x;
    });
    table(grid, "Offer mix per segment (share of the segment's decisions)", [{ key: "segment", label: "segment" }, { key: "total", label: "decisions", num: 1, fmt: fmtInt }]
      .concat(q.offers.map(function (n, j) { return { key: "o" + j, label: n, num: 1, fmt: fmtPct }; })), rows, true, function (r, c) {
        var v = r[c.key];
        if (!/^o\d+$/.test(c.key) || !isNum(v)) return null;
        return { "data-share": String(v), class: "num tsr-mix" };
      });
    var per = q.offers.map(function (n, j) {
      var c = 0, rc = 0, rs = 0;
      q.segments.forEach(function (_, i) { c += q.count[i][j]; rc += q.rewarded_count[i][j]; rs += q.reward_sum[i][j]; });
      return { offer: n, decisions: c, rewarded: rc, mean: rc ? rs / rc : null };
    });
    table(grid, "Offers: decisions and mean reward", [{ key: "offer", label: "offer" }, { key: "decisions", label: "decisions", num: 1, fmt: fmtInt },
      { key: "rewarded", label: "rewarded", num: 1, fmt: fmtInt }, { key: "mean", label: "mean reward (response rate or amount)", num: 1, fmt: fmtNum }], per);
    Array.prototype.forEach.call(grid.querySelectorAll("td.tsr-mix"), function (td) {
      var bg = viridis(Number(td.getAttribute("data-share")));
      td.style.background = bg;
      td.style.color = textOn(bg);
    });
  }

  function ciText(ci, f) { return ci && isNum(ci[0]) && isNum(ci[1]) ? f(ci[0]) + " to " + f(ci[1]) : "n/a"; }
  function fmtP(v) { return !isNum(v) ? "n/a" : v < 0.0001 ? "< 0.0001" : v.toFixed(4); }
  function renderExperiment(root, d) {
    var ex = d.experiment;
    if (!ex || !ex.experiments || !ex.experiments.length) return;
    var grid = section(root, "experiment", "Experiments", "A/B tests of the campaigns (tessera experiment): each treatment against the control, with " +
      "confidence intervals and p-values; segment results corrected for multiple testing.");
    ex.experiments.forEach(function (e) {
      var prop = e.metric === "responded";
      var fv = prop ? fmtPct : function (v) { return fmtMoneyU(v); };
      var fd = prop ? function (v) { return isNum(v) ? (v >= 0 ? "+" : "") + (100 * v).toFixed(2) + " pts" : "n/a"; } : function (v) { return isNum(v) ? (v >= 0 ? "+" : "") + fmtMoneyU(v) : "n/a"; };
      var what = prop ? "response rate" : moneyLabel("revenue per customer");
      table(grid, "Campaign " + e.campaign + ": groups (" + what + ")", [{ key: "group", label: "group" }, { key: "customers", label: "customers", num: 1, fmt: fmtInt },
        { key: "responders", label: "responders", num: 1, fmt: fmtInt }, { key: "mean", label: prop ? "response rate" : "mean", num: 1, fmt: fv },
        { key: "mean_cuped", label: "CUPED-adjusted", num: 1, fmt: fv, tip: "CUPED" }], e.groups || [], false,
        function (r, c) { return { "data-campaign": e.campaign, "data-group": r.group, "data-col": c.key }; });
      var rows = (e.comparisons || []).map(function (c) {
        var t = c.test || {};
        return { pair: c.treatment + " vs " + c.control, diff: t.difference, diff_ci: ciText(t.difference_ci, fd), lift: t.lift,
          lift_ci: ciText(t.lift_ci, fmtPct), p: t.p_value, sig: c.test ? (t.significant ? "yes" : "no") : (c.error || "n/a"),
          power: c.power, need: c.customers_per_group_needed, cuped: c.cuped ? c.cuped.difference : null };
      });
      table(grid, "Campaign " + e.campaign + ": effect (α = " + e.alpha + ")", [{ key: "pair", label: "comparison" },
        { key: "diff", label: "difference", num: 1, fmt: fd }, { key: "diff_ci", label: "confidence interval", tip: "Confidence interval" },
        { key: "lift", label: "relative lift", num: 1, fmt: fmtPct, tip: "Relative lift" }, { key: "lift_ci", label: "lift interval" },
        { key: "p", label: "p-value", num: 1, fmt: fmtP, tip: "p-value" }, { key: "sig", label: "significant" },
        { key: "power", label: "power", num: 1, fmt: fmtPct, tip: "Power" }, { key: "need", label: "customers per group needed", num: 1, fmt: fmtInt },
        { key: "cuped", label: "CUPED difference", num: 1, fmt: fd, tip: "CUPED" }], rows, true,
        function (r, c) { return { "data-campaign": e.campaign, "data-col": c.key }; });
      var sr = e.sample_ratio || {};
      var seg = e.segments || [];
      var pts = [];
      (e.comparisons || []).forEach(function (c) { var t = c.test; if (t && t.difference_ci) pts.push({ label: c.treatment + " vs " + c.control + " (all)", d: t.difference, lo: t.difference_ci[0], hi: t.difference_ci[1] }); });
      if (pts.length) {
        lineChart(grid, "Campaign " + e.campaign + ": difference with its confidence interval", "Each line spans the interval, the dot is the estimate; an interval that does not cross 0 (dashed) is significant.", {
          xLabel: prop ? "difference in response rate" : moneyLabel("difference per customer"), yLabel: "", refY: undefined, yMin: 0, yMax: pts.length + 1,
          xFmt: prop ? function (v) { return (100 * v).toFixed(1) + " pts"; } : fmtCompact, yFmt: function () { return ""; },
          series: pts.map(function (p, i) { return { name: p.label, points: [[p.lo, i + 1], [p.d, i + 1], [p.hi, i + 1]], dots: true }; }).concat([{ name: "no effect", points: [[0, 0], [0, pts.length + 1]], color: "#666666", dash: "4 4" }])
        });
      }
      grid.appendChild(el("p", { class: "tsr-caption tsr-wide", text: "Sample ratio check: χ² = " + fmtNum(sr.chi2) + " on " + sr.df + " degrees of freedom, p = " + fmtP(sr.p_value) +
        (isNum(sr.p_value) && sr.p_value < 0.001 ? " — the groups' sizes differ from the plan: check the assignment before trusting the effect." : " — group sizes as planned.") +
        (e.cuped ? " CUPED: θ = " + fmtNum(e.cuped.theta) + ", correlation with the pre-period " + fmtNum(e.cuped.correlation) + "." : "") }));
      if (seg.length)
        table(grid, "Campaign " + e.campaign + ": by segment (" + (e.correction === "holm" ? "Holm" : e.correction === "bh" ? "Benjamini-Hochberg" : "no") + " correction)",
          [{ key: "segment", label: "segment" }, { key: "treatment", label: "treatment" }, { key: "n_treatment", label: "treated", num: 1, fmt: fmtInt },
           { key: "n_control", label: "control", num: 1, fmt: fmtInt }, { key: "mean_treatment", label: "treated " + (prop ? "rate" : "mean"), num: 1, fmt: fv },
           { key: "mean_control", label: "control " + (prop ? "rate" : "mean"), num: 1, fmt: fv }, { key: "difference", label: "difference", num: 1, fmt: fd },
           { key: "p_value", label: "p-value", num: 1, fmt: fmtP, tip: "p-value" }, { key: "p_adjusted", label: "adjusted p-value", num: 1, fmt: fmtP, tip: "Adjusted p-value" }], seg, true);
    });
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
    setUnits(data.meta || {});
    svgCount = 0;
    [renderHeader, renderKpis, renderSegments, renderFeatures, renderRfm, renderClusters, renderModels, renderProfiles, renderDataQuality,
     renderChurn, renderNextBest, renderOffers, renderDecisions, renderExperiment, renderCustomers, renderRun, renderGlossary]
      .forEach(function (f) { f(root, data); });
    root.setAttribute("data-svg-charts", String(svgCount));
    var mine = charts; /* this render's charts (render may be called again) */
    if (global.addEventListener) {
      global.addEventListener("beforeprint", function () { mine.forEach(function (c) { c.resize(); }); });
      global.addEventListener("afterprint", function () { mine.forEach(function (c) { c.resize(); }); });
    }
    root.setAttribute("data-rendered", String(mine.length));
    return mine;
  }

  global.TesseraReport = { render: render, version: 1,
    /* for tests (tests/browser/report_contrast.test.mjs) */
    contrast: contrast, textOn: textOn, viridis: viridis, diverging: diverging, textPairs: TEXT_PAIRS, series: SERIES };
})(typeof window !== "undefined" ? window : this);
