"use strict";
// evalharness report: renders the embedded data with DOM calls only (textContent, never innerHTML),
// so no corpus or model text can become markup.
(function () {
  const DATA = JSON.parse(document.getElementById("evalharness-data").textContent);
  const PAGE = 50;
  const state = { text: "", direction: "", flagged: false, sort: "index", dir: 1, page: 0 };

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
  const fmt = (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toFixed(2));
  const label = (m) => DATA.labels[m] + (DATA.higher[m] ? " ↑" : " ↓");

  function scoreTable() {
    const box = document.getElementById("scores");
    const table = el("table", { "data-testid": "score-table" });
    const head = el("tr", {}, el("th", {}, "run"), el("th", {}, "system"), el("th", {}, "direction"),
      el("th", { class: "num" }, "segments"), ...DATA.metrics.map((m) => el("th", { class: "num" }, label(m))),
      el("th", { class: "num" }, "flagged"));
    table.appendChild(head);
    for (const row of DATA.score_rows) {
      const tr = el("tr", {}, el("td", {}, row.run), el("td", {}, row.system), el("td", {}, row.direction),
        el("td", { class: "num" }, row.segments));
      for (const m of DATA.metrics) {
        const s = row.scores[m];
        tr.appendChild(el("td", { class: "num" }, s ? fmt(s.score) : "—", s && s.ci ? el("div", { class: "ci" },
          "[" + fmt(s.ci[0]) + ", " + fmt(s.ci[1]) + "]") : null));
      }
      tr.appendChild(el("td", { class: "num" }, row.flagged));
      table.appendChild(tr);
    }
    box.appendChild(table);
    box.appendChild(el("p", { class: "legend" }, "Brackets: 95% bootstrap confidence interval. Signatures are in the manifest below."));
    if (DATA.comparisons.length) {
      const ct = el("table", { "data-testid": "comparison-table" });
      ct.appendChild(el("tr", {}, ...["run", "system", "direction", "metric", "A", "B", "Δ", "95% CI of Δ", "p", "verdict"]
        .map((h) => el("th", {}, h))));
      for (const c of DATA.comparisons) {
        const cls = c.verdict === "better" ? "better" : c.verdict === "worse" ? "worse" : "";
        ct.appendChild(el("tr", {}, el("td", {}, c.run), el("td", {}, c.system), el("td", {}, c.direction),
          el("td", {}, label(c.metric)), el("td", { class: "num" }, fmt(c.a)), el("td", { class: "num" }, fmt(c.b)),
          el("td", { class: "num " + cls }, (c.delta >= 0 ? "+" : "") + fmt(c.delta)),
          el("td", { class: "num" }, "[" + fmt(c.ci_low) + ", " + fmt(c.ci_high) + "]"),
          el("td", { class: "num" }, Number(c.p_value).toFixed(3)), el("td", { class: cls }, c.verdict)));
      }
      box.appendChild(el("h2", {}, "Against the first run (paired bootstrap)"));
      box.appendChild(ct);
    }
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }
  function bars(title, values, labels, max, color) {
    const w = 260, h = 120, pad = 18, bw = (w - pad) / values.length;
    const box = el("div", { class: "chart" }, el("h3", {}, title));
    const s = svg("svg", { width: w, height: h + 16, role: "img" });
    const top = Math.max(max, 1);
    values.forEach((v, i) => {
      const bh = (v / top) * (h - 10);
      s.appendChild(svg("rect", { x: pad + i * bw + 1, y: h - bh, width: Math.max(bw - 2, 1), height: bh, fill: color }));
      if (labels[i] !== "") { const t = svg("text", { x: pad + i * bw + bw / 2, y: h + 12, "text-anchor": "middle" }); t.textContent = labels[i]; s.appendChild(t); }
    });
    const t = svg("text", { x: 0, y: 10 }); t.textContent = String(top); s.appendChild(t);
    box.appendChild(s);
    return box;
  }
  // One horizontal bar per slice, on the metric's 0–100 scale.
  function sliceBars(sl, metric) {
    const rowH = 16, labelW = 120, barW = 150, w = labelW + barW + 44;
    const box = el("div", { class: "chart" }, el("h3", {}, sl.title + ": " + DATA.labels[metric] + " by slice"));
    const s = svg("svg", { width: w, height: sl.names.length * rowH + 4, role: "img" });
    sl.names.forEach((name, i) => {
      const y = i * rowH + 2, v = Math.max(0, Math.min(100, sl.values[i]));
      const t = svg("text", { x: 0, y: y + 11 }); t.textContent = name; s.appendChild(t);
      s.appendChild(svg("rect", { x: labelW, y: y + 2, width: barW, height: rowH - 5, fill: "#eef1f6" }));
      s.appendChild(svg("rect", { x: labelW, y: y + 2, width: (v / 100) * barW, height: rowH - 5, fill: "#6a8fd8" }));
      const val = svg("text", { x: labelW + barW + 4, y: y + 11 }); val.textContent = fmt(sl.values[i]); s.appendChild(val);
    });
    box.appendChild(s);
    return box;
  }

  function charts() {
    const box = document.getElementById("charts");
    const metric = DATA.metrics[0];
    for (const sys of DATA.systems) {
      const scores = DATA.segments.filter((r) => r.direction === sys.direction && r.scores[sys.key])
        .map((r) => r.scores[sys.key][metric]);
      if (!scores.length) continue;
      const bins = new Array(10).fill(0);
      for (const v of scores) bins[Math.min(9, Math.max(0, Math.floor(v / 10)))] += 1;
      box.appendChild(bars(sys.key + " " + sys.direction + ": " + DATA.labels[metric] + " per segment", bins,
        bins.map((_, i) => (i % 2 === 0 ? String(i * 10) : "")), Math.max(...bins), "#2456c9"));
    }
    for (const sl of DATA.slice_rows) box.appendChild(sliceBars(sl, metric));
  }

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

  function filtered() {
    const text = state.text.toLowerCase();
    let rows = DATA.segments.filter((r) => (!state.direction || r.direction === state.direction) &&
      (!state.flagged || r.flagged) && (!text || r.search.includes(text)));
    const key = state.sort;
    if (key !== "index") {
      const [sysKey, metric] = key.split("\u0000");
      const v = (r) => (key === "id" ? r.id : r.scores[sysKey] ? r.scores[sysKey][metric] : -Infinity);
      rows = rows.slice().sort((x, y) => (v(x) < v(y) ? -1 : v(x) > v(y) ? 1 : x.index - y.index) * state.dir);
    } else if (state.dir < 0) rows = rows.slice().reverse();
    return rows;
  }

  function segmentTable() {
    const box = document.getElementById("segment-table");
    box.textContent = "";
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const table = el("table", { id: "segments", "data-testid": "segments" });
    const head = el("tr");
    const sortable = (text, key) => {
      const th = el("th", { class: "sortable" + (state.sort === key ? (state.dir > 0 ? " sorted-asc" : " sorted-desc") : ""), "data-sort": key }, text);
      th.addEventListener("click", () => { state.dir = state.sort === key ? -state.dir : 1; state.sort = key; state.page = 0; segmentTable(); });
      return th;
    };
    head.appendChild(sortable("id", "id"));
    head.appendChild(el("th", {}, "direction"));
    head.appendChild(el("th", {}, "source"));
    head.appendChild(el("th", {}, "reference"));
    const systems = DATA.systems.filter((s) => !state.direction || s.direction === state.direction);
    for (const s of systems) {
      head.appendChild(el("th", {}, s.key, el("span", { class: "sys" }, "hypothesis, " + s.direction)));
      for (const m of DATA.metrics) head.appendChild(sortable(DATA.labels[m] + " · " + s.key, s.key + "\u0000" + m));
    }
    head.appendChild(el("th", {}, "flags"));
    table.appendChild(head);
    for (const r of rows.slice(state.page * PAGE, (state.page + 1) * PAGE)) {
      const tr = el("tr", { "data-id": r.id }, el("td", {}, r.id), el("td", {}, r.direction),
        el("td", { class: "text" }, r.source), el("td", { class: "text" }, r.reference));
      for (const s of systems) {
        const hyp = r.hyps[s.key];
        tr.appendChild(el("td", { class: "text" }, ...(hyp === undefined ? ["—"] : diff(hyp, r.reference))));
        for (const m of DATA.metrics) tr.appendChild(el("td", { class: "num" }, r.scores[s.key] ? fmt(r.scores[s.key][m]) : "—"));
      }
      const flags = el("td");
      for (const [sys, names] of Object.entries(r.flags)) for (const f of names) flags.appendChild(el("span", { class: "flag", title: sys }, f));
      tr.appendChild(flags);
      table.appendChild(tr);
    }
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
    const search = el("input", { type: "search", placeholder: "filter: id, text, flag…", "data-testid": "filter" });
    search.addEventListener("input", () => { state.text = search.value; state.page = 0; segmentTable(); });
    const dirs = el("select", { "data-testid": "direction" }, el("option", { value: "" }, "both directions"),
      ...DATA.directions.map((d) => el("option", { value: d }, d)));
    dirs.addEventListener("change", () => { state.direction = dirs.value; state.page = 0; segmentTable(); });
    const flagged = el("input", { type: "checkbox", "data-testid": "flagged" });
    flagged.addEventListener("change", () => { state.flagged = flagged.checked; state.page = 0; segmentTable(); });
    box.append(search, dirs, el("label", {}, flagged, " flagged only"),
      el("span", { class: "legend" }, "Hypothesis words ", el("ins", {}, "not in the reference"), " and reference words ",
        el("del", {}, "missing"), "."));
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
