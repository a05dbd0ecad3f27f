// `/tasks/{task_id}`: the team's view. Each worker's exact counts by state as a chart the page
// draws (SVG) and as a table, the task's metrics, for a CONSENSUS task how often each pair of
// workers agrees (the server's figure, by the rule consensus decides by), the inputs awaiting
// review, and an export in the formats the server says fit the task; polled while the page is
// open, so it follows the work without a reload.

import { call, session } from "./api.js";
import { showError, setWhere } from "./app.js";
import { clear, h, svg } from "./dom.js";

const POLL_MS = 2000;
const AGREEMENT_MS = 10000;
const STATES = [
  ["pending", "to do", "#94a3b8"],
  ["awaiting_review", "awaiting review", "#f59e0b"],
  ["awaiting_consensus_review", "awaiting consensus", "#a855f7"],
  ["success", "done", "#16a34a"],
  ["review_denied", "rejected", "#dc2626"],
];

export async function show(main, taskId) {
  const id = encodeURIComponent(taskId);
  const { task } = await call("GET", `/v2/tasks/${id}`);
  setWhere(`Team · ${task.name || task.id}`);
  const chart = h("figure", { class: "chart" });
  const table = h("table", { class: "counts-table", "aria-label": "Counts per worker and state" });
  const metrics = h("dl", { class: "metrics", "aria-label": "Task metrics" });
  const waiting = h("ul", { class: "waiting", "aria-label": "Inputs awaiting review" });
  const updated = h("p", { class: "updated", role: "status" });
  const consensus = task.review?.strategy === "CONSENSUS";
  const agreement = h("table", { class: "counts-table", "aria-label": "Agreement between workers" });
  // Which formats fit this task is the export's rule: the server says it.
  const { formats } = await call("GET", `/v2/tasks/${id}/export/formats`);
  const format = h("select", { "aria-label": "Export format" }, formats.map((f) => h("option", { value: f.name }, f.folder ? `${f.name.toUpperCase()} (tar)` : f.name.toUpperCase())));
  const exportButton = h("button", { type: "button", "aria-label": "Export", onclick: () => download(format.value) }, "Export");
  const exported = h("span", { class: "updated", role: "status", "aria-label": "Export status" });

  clear(main, h("section", { class: "team-screen", "aria-label": `Team view of ${task.id}` },
    h("div", { class: "top" }, h("h1", {}, task.name || task.id), task.name ? h("code", {}, task.id) : null,
      h("nav", {}, h("a", { href: `/label/${id}` }, "Label"), " ", h("a", { href: `/review/${id}` }, "Review"))),
    h("div", { class: "columns" },
      h("div", {}, h("h2", {}, "Work per worker"), chart, table,
        consensus ? [h("h2", {}, "Agreement between workers"), agreement,
          h("p", { class: "updated" }, "Of the inputs both workers submitted, the share on which they agree, by the rule consensus decides by.")] : null),
      h("div", {}, h("h2", {}, "Metrics"), metrics, h("h2", {}, "Awaiting review"), waiting,
        h("h2", {}, "Export"), h("p", {}, format, " ", exportButton, " ", exported))),
    updated));

  async function download(f) {
    showError(null);
    const token = session.load()?.key;
    try {
      const response = await fetch(`/v2/tasks/${id}/export?format=${f}`, { headers: token ? { Authorization: `Key ${token}` } : {}, credentials: "omit" });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new Error(body?.status?.details || `the export failed (HTTP ${response.status})`);
      }
      const name = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "")?.[1] || `${task.id}-${f}`;
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      exported.textContent = `Exported ${name} (${blob.size} bytes)`;
      exported.dataset.file = name;
      exported.dataset.bytes = blob.size;
    } catch (e) {
      showError(`Export: ${e.message}`);
    }
  }

  function drawChart(counts) {
    const rowH = 26;
    const labelW = 140;
    const width = 560;
    const max = Math.max(1, ...counts.map((c) => STATES.reduce((s, [k]) => s + c[k], 0)));
    const height = counts.length * rowH + 30;
    const bars = counts.flatMap((c, i) => {
      let x = labelW;
      const y = i * rowH + 4;
      const name = c.worker.user.id;
      return [
        svg("text", { x: labelW - 8, y: y + 14, "text-anchor": "end", class: "axis" }, name),
        ...STATES.filter(([k]) => c[k] > 0).map(([k, words, fill]) => {
          const w = ((width - labelW - 10) * c[k]) / max;
          const bar = svg("rect", { x, y, width: w, height: rowH - 8, fill, role: "img", "aria-label": `${name}: ${c[k]} ${words}` }, svg("title", {}, `${name}: ${c[k]} ${words}`));
          x += w;
          return bar;
        }),
      ];
    });
    let at = 0;
    const legend = STATES.map(([, words, fill]) => {
      const x = at;
      at += 24 + words.length * 6.5;
      return [
        svg("rect", { x, y: counts.length * rowH + 12, width: 10, height: 10, fill }),
        svg("text", { x: x + 14, y: counts.length * rowH + 21, class: "axis" }, words),
      ];
    });
    clear(chart, svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "group", "aria-label": "Chart of each worker's inputs by state" }, bars, legend));
  }

  function drawTable(counts) {
    clear(table,
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "worker"), STATES.map(([, words]) => h("th", { scope: "col" }, words)))),
      h("tbody", {}, counts.map((c) => h("tr", { "data-worker": c.worker.user.id }, h("th", { scope: "row" }, c.worker.user.id), STATES.map(([k]) => h("td", { "data-state": k }, c[k]))))));
  }

  function drawAgreement(pairs) {
    const percent = (p) => (p.inputs ? `${Math.round((100 * p.agreed) / p.inputs)}%` : "–");
    const inputs = pairs.reduce((s, p) => s + p.inputs, 0);
    const agreed = pairs.reduce((s, p) => s + p.agreed, 0);
    clear(agreement,
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "workers"), h("th", { scope: "col" }, "both submitted"), h("th", { scope: "col" }, "agreed"), h("th", { scope: "col" }, "agreement"))),
      h("tbody", {}, pairs.length
        ? [pairs.map((p) => h("tr", { "data-pair": p.user_ids.join(" ") },
            h("th", { scope: "row" }, p.user_ids.join(" · ")), h("td", {}, p.inputs), h("td", {}, p.agreed),
            h("td", { "data-agreement": "", "aria-label": `${p.user_ids.join(" and ")} agree on ${p.agreed} of ${p.inputs}` }, percent(p)))),
          pairs.length > 1 ? h("tr", { "data-pair": "all" }, h("th", { scope: "row" }, "all pairs"), h("td", {}, inputs), h("td", {}, agreed), h("td", {}, percent({ inputs, agreed }))) : null]
        : h("tr", {}, h("td", { colspan: 4 }, "No input submitted by two workers yet."))));
  }

  // The agreement is a walk over the task's work (a few hundred ms at 20,000 inputs): asked
  // again only once the counts moved, and at most every AGREEMENT_MS.
  let countsSeen = null;
  let agreementStale = true;
  let agreementAt = -Infinity;

  async function poll() {
    const [counts, withMetrics, awaiting] = await Promise.all([
      call("GET", `/v2/tasks/${id}/inputs/count`),
      call("GET", `/v2/tasks/${id}?additional_fields=metrics`),
      call("GET", `/v2/annotations?task_id=${id}&statuses=24157&per_page=50`),
    ]);
    const seen = JSON.stringify(counts.counts);
    if (seen !== countsSeen) agreementStale = true;
    countsSeen = seen;
    if (consensus && agreementStale && performance.now() - agreementAt >= AGREEMENT_MS) {
      agreementAt = performance.now();
      drawAgreement((await call("GET", `/v2/tasks/${id}/agreement`)).pairs);
      agreementStale = false;
    }
    drawChart(counts.counts);
    drawTable(counts.counts);
    const m = withMetrics.task.metrics || {};
    const totals = STATES.map(([k, words]) => [words, counts.counts.reduce((s, c) => s + c[k], 0)]);
    clear(metrics,
      h("dt", {}, "inputs"), h("dd", {}, m.input_source?.inputs_count_estimated ?? "?"),
      h("dt", {}, "labeled"), h("dd", {}, `${m.work?.inputs_percent_estimated ?? 0}%`),
      // Both shares are of all the task's inputs; a review sample planned up front (MANUAL)
      // is a count of its own, which other review strategies do not have.
      h("dt", {}, "decided"), h("dd", {}, `${m.review?.inputs_percent_estimated ?? 0}%`),
      m.review?.inputs_count_estimated
        ? [h("dt", {}, "sampled for review"), h("dd", {}, m.review.inputs_count_estimated)]
        : [],
      totals.map(([words, n]) => [h("dt", {}, words), h("dd", { "data-total": words }, n)]));
    clear(waiting, awaiting.annotations.length
      ? awaiting.annotations.map((a) => h("li", {}, h("code", {}, a.input_id), ` by ${a.worker.user.id}`))
      : h("li", {}, "none"));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  let timer = null;
  let gone = false;
  const loop = async () => {
    try {
      await poll();
      showError(null);
    } catch (e) {
      showError(e.message);
    }
    if (!gone) timer = setTimeout(loop, document.hidden ? POLL_MS * 5 : POLL_MS);
  };
  await loop();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}
