"use strict";
// evalharness report: renders the embedded data with DOM calls only (textContent, never innerHTML),
// so no corpus or model text can become markup.
(function () {
  const DATA = JSON.parse(document.getElementById("evalharness-data").textContent);
  const PAGE = 50;
  const LANGUAGES = { ms: "Malay", en: "English" };
  const PALETTE = ["#2456c9", "#d9822b", "#2e8b57", "#9c3fb5", "#c62828", "#00838f", "#6d4c41", "#5c6bc0"];
  const KEYS = [...new Set(DATA.systems.map((s) => s.key))];
  const state = { direction: DATA.directions[0] || "", text: "", flagged: false, sort: "index", dir: 1, page: 0,
    chartMetric: DATA.metrics[0] };
  // Segments of each direction, in corpus order, grouped once.
  const BY_DIRECTION = new Map(DATA.directions.map((d) => [d, []]));
  for (const r of DATA.segments) BY_DIRECTION.get(r.direction).push(r);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return node;
  }
  const isEmpty = (x) => x === null || x === undefined || Number.isNaN(x);
  const fmt = (x) => (isEmpty(x) ? "—" : Number(x).toFixed(2));
  const label = (m) => DATA.labels[m] + (DATA.higher[m] ? " ↑" : " ↓");
  const color = (key) => PALETTE[KEYS.indexOf(key) % PALETTE.length];
  const language = (code) => LANGUAGES[code] || code;
  const direction = (d) => { const [s, t] = d.split("-"); return d + " · " + language(s) + " → " + language(t); };
  const swatch = (key) => { const s = el("span", { class: "swatch" }); s.style.background = color(key); return s; };
  const systemsOf = (d) => DATA.systems.filter((s) => s.direction === d);

  function scoreTable() {
    const box = document.getElementById("scores");
    const table = el("table", { "data-testid": "score-table" });
    const head = el("tr", {}, el("th", {}, "run"), el("th", {}, "system"), el("th", {}, "direction"),
      el("th", { class: "num" }, "segments"), ...DATA.metrics.map((m) => el("th", { class: "num" }, label(m))),
      el("th", { class: "num" }, "flagged"));
    table.appendChild(head);
    for (const row of DATA.score_rows) {
      const key = DATA.runs.length > 1 ? row.run + "/" + row.system : row.system;
      const tr = el("tr", {}, el("td", {}, row.run), el("td", {}, swatch(key), row.system), el("td", {}, row.direction),
        el("td", { class: "num" }, row.segments));
      for (const m of DATA.metrics) {
        const s = row.scores[m];
        // the interval as the terminal and summary.md print it (rounded by Python, not by toFixed)
        tr.appendChild(el("td", { class: "num" }, s ? fmt(s.score) : "—", s && s.ci ? el("div", { class: "ci" },
          row.ci_text[m]) : null, s && s.breakdown ? el("div", { class: "ci", "data-testid": "breakdown" },
          s.breakdown.verbose_score) : null));  // BLEU: sacrebleu's own line (precisions, BP, ratio, lengths)
      }
      tr.appendChild(el("td", { class: "num" }, row.flagged));
      table.appendChild(tr);
    }
    box.appendChild(table);
    box.appendChild(el("p", { class: "legend" }, "Brackets: 95% bootstrap confidence interval. Signatures are in the manifest below."));
    if (DATA.comparisons.length) {
      const ct = el("table", { "data-testid": "comparison-table" });
      ct.appendChild(el("tr", {}, ...["run", "system", "direction", "metric", "A", "B", "Δ", "CI of Δ (1−α, test's)",
        "p", "verdict", "gate", "test"].map((h) => el("th", {}, h))));
      for (const c of DATA.comparisons) {
        const cls = c.verdict === "better" ? "better" : c.verdict === "worse" ? "worse" : "";
        ct.appendChild(el("tr", {}, el("td", {}, c.run), el("td", {}, c.system), el("td", {}, c.direction),
          el("td", {}, c.label), el("td", { class: "num" }, fmt(c.a)), el("td", { class: "num" }, fmt(c.b)),
          el("td", { class: "num " + cls }, (c.delta >= 0 ? "+" : "") + fmt(c.delta)),
          el("td", { class: "num" }, c.ci_text), el("td", { class: "num" }, c.p_text),
          el("td", { class: cls }, c.verdict), el("td", {}, c.status), el("td", {}, c.test)));
      }
      box.appendChild(el("h2", {}, "Against the first run (the gate's test, as check runs it)"));
      box.appendChild(ct);
    }
  }

  // ------------------------------------------------------------------ charts (any metric, chosen on the page)
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  }
  // Scores run 0–100, but TER goes above: then the axis ends at the next multiple of 50 over the largest value.
  // (less a hair: a sentence BLEU of 100.00000000000001 must not stretch the axis to 150)
  const axisTop = (values) => Math.max(100, Math.ceil(values.reduce((a, v) => Math.max(a, v), 0) / 50 - 1e-9) * 50);

  // ``top``: the axis end, shared by the histograms of every direction so that they compare at a glance.
  function histogram(key, values, metric, top) {
    const w = 262, right = 12, h = 96, left = 26, bottom = 14, width = top / 10;
    const bins = new Array(10).fill(0);
    for (const v of values) bins[Math.min(9, Math.max(0, Math.floor(v / width)))] += 1;
    const most = Math.max(1, ...bins), bw = (w - left - right) / 10;
    const mean = values.length ? values.reduce((a, v) => a + v, 0) / values.length : NaN;
    const box = el("div", { class: "chart", "data-testid": "histogram", "data-key": key, "data-metric": metric, "data-top": top },
      el("h4", {}, swatch(key), key),
      el("div", { class: "legend" }, DATA.labels[metric] + " per segment · " + values.length + " segments · mean " + fmt(mean)));
    const s = svg("svg", { width: w, height: h + bottom, role: "img" });
    s.appendChild(svg("line", { x1: left, x2: w - right, y1: h, y2: h, stroke: "#b8bfcc" }));
    bins.forEach((n, i) => {
      const bh = (n / most) * (h - 8);
      const bar = svg("rect", { x: left + i * bw + 1, y: h - bh, width: bw - 2, height: bh, fill: color(key), "data-count": n });
      bar.appendChild(svg("title", {}, fmt(i * width).replace(".00", "") + "–" + fmt((i + 1) * width).replace(".00", "") +
        ": " + n + " segments"));
      s.appendChild(bar);
      if (n) s.appendChild(svg("text", { x: left + i * bw + bw / 2, y: h - bh - 2, "text-anchor": "middle" }, String(n)));
    });
    for (let i = 0; i <= 10; i += 2) {
      s.appendChild(svg("text", { x: left + i * bw, y: h + 11, "text-anchor": "middle" }, String(Math.round(i * width))));
    }
    s.appendChild(svg("text", { x: 0, y: 10 }, "n"));
    box.appendChild(s);
    return box;
  }

  // Each slice (a tag value such as kind=body): one horizontal bar per system, so systems compare side by side.
  function sliceChart(d, slices, metric) {
    const names = [...new Set(slices.flatMap((sl) => sl.names))];
    const barH = 13, gap = 9, labelW = 140, barW = 260, valueW = 46;
    const groupH = slices.length * barH + gap;
    const all = slices.flatMap((sl) => (sl.values[metric] || []).filter((v) => !isEmpty(v)));
    const top = axisTop(all);
    const box = el("div", { class: "chart", "data-testid": "slice-chart", "data-direction": d, "data-metric": metric },
      el("h4", {}, DATA.labels[metric] + " by slice"),
      el("div", { class: "legend" }, "corpus score of the segments with each tag (segments in brackets), axis 0–" + top),
      el("div", { class: "keys" }, ...slices.map((sl) => el("span", {}, swatch(sl.key), sl.key))));
    const s = svg("svg", { width: labelW + barW + valueW, height: names.length * groupH + 2, role: "img" });
    names.forEach((name, i) => {
      const y0 = i * groupH + 2;
      const first = slices.find((sl) => sl.names.includes(name));
      const count = first.segments[first.names.indexOf(name)];
      s.appendChild(svg("text", { x: 0, y: y0 + (slices.length * barH) / 2 + 4 }, name + " (" + count + ")"));
      s.appendChild(svg("rect", { x: labelW, y: y0, width: barW, height: slices.length * barH, fill: "#f1f3f7" }));
      slices.forEach((sl, j) => {
        const at = sl.names.indexOf(name);
        const v = at < 0 || !sl.values[metric] ? null : sl.values[metric][at];
        const y = y0 + j * barH;
        if (!isEmpty(v)) {
          const bar = svg("rect", { x: labelW, y: y + 1, width: (Math.max(0, v) / top) * barW, height: barH - 2, fill: color(sl.key) });
          bar.appendChild(svg("title", {}, sl.key + " · " + name + ": " + fmt(v)));
          s.appendChild(bar);
        }
        s.appendChild(svg("text", { x: labelW + barW + 4, y: y + barH - 3, class: "value" }, fmt(v)));
      });
    });
    box.appendChild(s);
    return box;
  }

  function drawCharts() {
    const box = document.getElementById("charts");
    box.textContent = "";
    const metric = state.chartMetric;
    const byDirection = DATA.directions.map((d) => [d, systemsOf(d).map((sys) => {
      const out = [];
      for (const r of BY_DIRECTION.get(d)) {
        const v = r.scores[sys.key] ? r.scores[sys.key][metric] : null;
        if (!isEmpty(v)) out.push(v);
      }
      return [sys.key, out];
    })]);
    // one axis for every direction's histograms of this metric, so that they compare at a glance
    const top = axisTop(byDirection.flatMap(([, values]) => values.map(([, vs]) => axisTop(vs))));
    for (const [d, values] of byDirection) {
      const grid = el("div", { class: "histograms" }), row = el("div", { class: "charts" }, grid);
      for (const [key, vs] of values) grid.appendChild(histogram(key, vs, metric, top));
      const slices = DATA.slice_rows.filter((sl) => sl.direction === d);
      if (slices.length) row.appendChild(sliceChart(d, slices, metric));
      box.appendChild(el("div", { class: "chart-group", "data-direction": d }, el("h3", {}, direction(d)), row));
    }
  }

  function charts() {
    const pick = el("select", { "data-testid": "chart-metric" },
      ...DATA.metrics.map((m) => el("option", { value: m }, label(m))));
    pick.addEventListener("change", () => { state.chartMetric = pick.value; drawCharts(); });
    document.getElementById("chart-controls").append(el("label", {}, "Metric ", pick),
      el("span", { class: "legend" }, "Histograms of the per-segment scores, and corpus scores by slice, for each system."));
    drawCharts();
  }

  // ------------------------------------------------------------------ segments, one direction at a time
  // Word-level difference of hypothesis against reference (longest common subsequence of words).
  function diff(hyp, ref) {
    const a = hyp.split(/\s+/).filter(Boolean), b = ref.split(/\s+/).filter(Boolean);
    if (a.length * b.length > 250000) return [el("span", {}, hyp)];
    const n = a.length, m = b.length, L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const out = []; let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { out.push(el("span", {}, a[i] + " ")); i++; j++; }
      else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) { out.push(el("del", { title: "in the reference only" }, b[j])); out.push(document.createTextNode(" ")); j++; }
      else { out.push(el("ins", { title: "in the hypothesis only" }, a[i])); out.push(document.createTextNode(" ")); i++; }
    }
    return out;
  }

  // The value a row sorts by; null when it has none (no hypothesis from that system, or no score).
  function sortValue(r, key) {
    if (key === "id") return r.id;
    const [sys, metric] = key.split("\u0000");
    const v = r.scores[sys] ? r.scores[sys][metric] : null;
    return isEmpty(v) ? null : v;
  }

  function filtered() {
    const text = state.text.toLowerCase();
    let rows = BY_DIRECTION.get(state.direction) || [];
    if (state.flagged || text) rows = rows.filter((r) => (!state.flagged || r.flagged) && (!text || r.search.includes(text)));
    if (state.sort === "index") return state.dir < 0 ? rows.slice().reverse() : rows;
    // Rows without a value go last in both orders: an empty cell is never the best or the worst.
    const keyed = rows.map((r) => [sortValue(r, state.sort), r]);
    keyed.sort(([a, x], [b, y]) => {
      if (a === null || b === null) return a === b ? x.index - y.index : a === null ? 1 : -1;
      return (a < b ? -1 : a > b ? 1 : 0) * state.dir || x.index - y.index;
    });
    return keyed.map(([, r]) => r);
  }

  // ``key``: "id", or a system key and a metric joined by U+0000 (which no name can contain).
  function sortButton(text, key, title, attrs) {
    const cls = state.sort === key ? (state.dir > 0 ? " sorted-asc" : " sorted-desc") : "";
    const b = el("button", { class: "sortable" + cls, title: title, ...attrs }, text);
    b.addEventListener("click", () => { state.dir = state.sort === key ? -state.dir : 1; state.sort = key; state.page = 0; segmentTable(); });
    return b;
  }

  function hypothesisCell(r, sys) {
    const td = el("td", { class: "text hyp", "data-system": sys.key });
    const hyp = r.hyps[sys.key];
    if (hyp === undefined) {
      td.classList.add("empty");
      td.appendChild(el("span", { class: "legend" }, "— not in this run"));
      return td;
    }
    if (hyp === "") td.appendChild(el("span", { class: "legend" }, "(empty output)"));
    td.append(...diff(hyp, r.reference));
    const scores = el("div", { class: "scores" });
    for (const m of DATA.metrics) {
      const v = r.scores[sys.key] ? r.scores[sys.key][m] : null;
      scores.appendChild(el("span", { class: "score" + (state.sort === sys.key + "\u0000" + m ? " active" : ""), "data-metric": m },
        DATA.labels[m] + " ", el("b", {}, fmt(v))));
    }
    td.appendChild(scores);
    for (const f of r.flags[sys.key] || []) td.appendChild(el("span", { class: "flag" }, f));
    for (const n of (r.postprocessed || {})[sys.key] || [])
      td.appendChild(el("span", { class: "note", title: "the system's answer was changed by this post-processing rule" },
        "postprocessed: " + n));
    return td;
  }

  function segmentTable() {
    const box = document.getElementById("segment-table");
    box.textContent = "";
    const columns = systemsOf(state.direction);
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const [src, tgt] = state.direction.split("-");
    const table = el("table", { id: "segments", "data-testid": "segments", "data-direction": state.direction });
    const head = el("tr", {}, el("th", { class: "id" }, sortButton("id", "id", "sort by segment id", { "data-sort": "id" })),
      el("th", {}, "source", el("span", { class: "sys" }, language(src))),
      el("th", {}, "reference", el("span", { class: "sys" }, language(tgt))));
    for (const sys of columns) {
      const th = el("th", { class: "hyp", "data-system": sys.key }, el("div", {}, swatch(sys.key), sys.key),
        el("div", { class: "sorts" }, el("span", { class: "sys" }, "sort:"),
          ...DATA.metrics.map((m) => sortButton(DATA.labels[m], sys.key + "\u0000" + m, "sort by " + sys.key + "'s " + label(m),
            { "data-sort": "score", "data-metric": m }))));
      th.style.borderTopColor = color(sys.key);
      head.appendChild(th);
    }
    table.appendChild(el("thead", {}, head));
    const body = el("tbody");
    for (const r of rows.slice(state.page * PAGE, (state.page + 1) * PAGE)) {
      const tr = el("tr", { "data-id": r.id }, el("td", { class: "id" }, r.id,
        ...Object.values(r.tags || {}).map((t) => el("span", { class: "sys" }, t))),
        el("td", { class: "text" }, r.source), el("td", { class: "text" }, r.reference));
      for (const sys of columns) tr.appendChild(hypothesisCell(r, sys));
      body.appendChild(tr);
    }
    table.appendChild(body);
    box.appendChild(table);
    const prev = el("button", { "data-testid": "prev" }, "‹ previous"), next = el("button", { "data-testid": "next" }, "next ›");
    prev.disabled = state.page === 0; next.disabled = state.page >= pages - 1;
    prev.addEventListener("click", () => { state.page -= 1; segmentTable(); });
    next.addEventListener("click", () => { state.page += 1; segmentTable(); });
    box.appendChild(el("div", { class: "pager" }, prev, next,
      el("span", { "data-testid": "page-info" }, "page " + (state.page + 1) + " of " + pages + " · " + rows.length + " segments")));
  }

  function controls() {
    const box = document.getElementById("segment-controls");
    const dirs = el("select", { "data-testid": "direction" },
      ...DATA.directions.map((d) => el("option", { value: d }, direction(d) + " (" + BY_DIRECTION.get(d).length + " segments, " +
        systemsOf(d).length + " systems)")));
    dirs.addEventListener("change", () => {
      state.direction = dirs.value; state.page = 0;
      const sys = state.sort.split("\u0000")[0];
      if (state.sort.includes("\u0000") && !systemsOf(state.direction).some((s) => s.key === sys)) { state.sort = "index"; state.dir = 1; }
      segmentTable();
    });
    const search = el("input", { type: "search", placeholder: "filter: id, text, flag…", "data-testid": "filter" });
    search.addEventListener("input", () => { state.text = search.value; state.page = 0; segmentTable(); });
    const flagged = el("input", { type: "checkbox", "data-testid": "flagged" });
    flagged.addEventListener("change", () => { state.flagged = flagged.checked; state.page = 0; segmentTable(); });
    box.append(el("label", {}, "Direction ", dirs), search, el("label", {}, flagged, " flagged only"),
      el("span", { class: "legend" }, "Hypothesis words ", el("ins", {}, "not in the reference"), " and reference words ",
        el("del", {}, "missing"), ". Under each hypothesis: its scores and flags; “sort:” orders by one system’s score, empty last."));
  }

  function manifest() {
    const box = document.getElementById("manifest");
    for (const run of DATA.runs) {
      box.appendChild(el("details", {}, el("summary", {}, run.label + " — " + run.summary), el("pre", {}, JSON.stringify(run.manifest, null, 2))));
    }
  }

  scoreTable();
  charts();
  controls();
  segmentTable();
  manifest();
  document.body.setAttribute("data-ready", "1");
})();
