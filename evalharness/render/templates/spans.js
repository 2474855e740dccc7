// Error spans (xCOMET's), added to the page only when a run has them: under each hypothesis that has spans, the
// hypothesis again with each span highlighted, its severity by colour (minor, major, critical). It watches the
// segment table, which report.js redraws on every sort, filter and page.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("evalharness-data").textContent);
  const ROWS = new Map(DATA.segments.map((r) => [r.direction + "\u0000" + r.id, r]));
  function highlighted(hyp, spans) {
    const box = document.createElement("div");
    box.className = "spans";
    let at = 0;
    for (const s of spans.slice().sort((a, b) => a.start - b.start)) {
      if (s.start < at) continue;  // overlapping spans: the first one shown
      box.appendChild(document.createTextNode(hyp.slice(at, s.start)));
      const mark = document.createElement("mark");
      mark.className = "span-" + s.severity;
      mark.title = s.severity + " error (confidence " + Number(s.confidence).toFixed(2) + ")";
      mark.textContent = hyp.slice(s.start, s.end);
      box.appendChild(mark);
      at = s.end;
    }
    box.appendChild(document.createTextNode(hyp.slice(at)));
    return box;
  }
  function decorate() {
    const table = document.getElementById("segments");
    if (!table) return;
    const direction = table.getAttribute("data-direction");
    for (const td of table.querySelectorAll("td.hyp[data-system]")) {
      if (td.querySelector(".spans")) continue;
      const row = ROWS.get(direction + "\u0000" + td.parentElement.getAttribute("data-id"));
      const byMetric = row && row.spans ? row.spans[td.getAttribute("data-system")] : null;
      if (!byMetric) continue;
      for (const [metric, spans] of Object.entries(byMetric)) {
        const box = highlighted(row.hyps[td.getAttribute("data-system")], spans);
        box.setAttribute("data-metric", metric);
        box.insertBefore(document.createElement("span"), box.firstChild).className = "legend";
        box.firstChild.textContent = (DATA.labels[metric] || metric) + " spans: ";
        td.insertBefore(box, td.querySelector(".scores"));
      }
    }
  }
  new MutationObserver(decorate).observe(document.getElementById("segment-table"), { childList: true, subtree: true });
  decorate();
})();
