// `/label/{task_id}`: the labeling screen. Works from LABEL_START's queue; a key picks a
// concept, Enter posts the annotation and submits (through the outbox, so the next input shows
// at once and nothing is lost while the server is away); back and forward go through what the
// person did in this tab, and a submitted input can be changed (LABEL_WITHDRAW, then the
// annotation again under the same id, then LABEL_SUBMIT) until a reviewer or consensus decides.
// One-key mode (classification, opt-in, remembered for the tab): a digit picks its concept
// alone and submits at once; Back, Forward and Z undo stay as they are. Reviewers' comments
// on decided work (approved or rejected, which never comes back to label) are listed apart.

import { call, inputText, mediaUrl, outbox, session, userPath } from "./api.js";
import { showError, setWhere } from "./app.js";
import { clear, h, typing } from "./dom.js";
import { fromApi, Stage, toApi } from "./regions.js";

const AHEAD = 3; // inputs whose images are fetched before they are shown
const REFILL = 4; // ask for more work when fewer unsubmitted inputs than this are queued
const ONE_KEY = "annotask.one-key"; // sessionStorage: one-key mode is on in this tab

/// An annotation id the retries of one label share: the server replaces an annotation of the
/// same id, so a label sent twice is one label.
function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `a${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function show(main, taskId) {
  const me = session.load();
  const { task } = await call("GET", `/v2/tasks/${encodeURIComponent(taskId)}`);
  const concepts = task.concept_ids || [];
  const mode = { BOUNDING_BOX_DETECTION: "box", POLYGON_DETECTION: "polygon" }[task.type] || null;
  setWhere(`Label · ${task.name || task.id}`);

  const items = []; // this tab's session: {assignment, input, annotationId, chosen:Set, regions, submitted, sent}
  let cur = 0;
  let exhausted = false;
  let refilling = null;
  let again = false; // asked for more while an answer was on its way
  let waiting = null; // the time of a submit that found no next input queued
  let counts = null;
  let gone = false;

  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const progress = h("span", { class: "progress", "aria-label": "Your progress" });
  const position = h("span", { class: "position" });
  const filter = concepts.length > 9 ? h("input", { type: "search", "aria-label": "Filter concepts", placeholder: "Filter concepts ( / )" }) : null;
  const conceptBar = h("div", { class: "concepts", role: "toolbar", "aria-label": "Concepts" });
  const stage = new Stage({ mode, concepts, onchange: (regions) => edited(() => (item().regions = regions.map((r) => structuredClone(r)))) });
  const back = h("button", { type: "button", "aria-label": "Back (Left arrow)", onclick: () => go(cur - 1) }, "← Back");
  const forward = h("button", { type: "button", "aria-label": "Forward (Right arrow)", onclick: () => go(cur + 1) }, "Forward →");
  const submit = h("button", { type: "button", class: "primary", "aria-label": "Submit (Enter)", onclick: () => send() }, "Submit ⏎");
  const undo = h("button", { type: "button", "aria-label": "Undo last submit (Z)", onclick: () => undoLast() }, "Undo last submit");
  const badge = h("span", { class: "badge", "aria-label": "Input state" });
  const note = h("p", { class: "review-note", role: "note", hidden: true });
  const oneKey = h("input", {
    type: "checkbox",
    id: "one-key",
    "aria-label": "One-key mode",
    checked: sessionStorage.getItem(ONE_KEY) === "on",
    onchange: () => {
      if (oneKey.checked) sessionStorage.setItem(ONE_KEY, "on");
      else sessionStorage.removeItem(ONE_KEY);
      oneKey.blur();
      keys.textContent = keysHelp(mode, oneKey.checked);
    },
  });
  // A single-choice shortcut: only where a key picks a concept, not a region's.
  const oneKeyBox = mode ? null : h("label", { class: "one-key", for: "one-key", title: "A digit picks its concept alone and submits at once" }, oneKey, " One-key mode");
  const keys = h("p", { class: "keys" }, keysHelp(mode, !mode && oneKey.checked));
  const feedbackList = h("ul", { class: "feedback", "aria-label": "Reviewers' comments on your work" });
  const feedbackTitle = h("summary", {}, "Reviewers' comments on your work");
  const feedbackBox = h("details", { class: "feedback-box", hidden: true, ontoggle: () => feedbackBox.open && loadFeedback() }, feedbackTitle, feedbackList);

  clear(
    main,
    h("section", { class: "label-screen", "aria-label": `Labeling ${task.id}` },
      h("div", { class: "top" }, h("h1", {}, task.name || task.id), progress, position, badge),
      note,
      feedbackBox,
      stage.el,
      h("div", { class: "controls" }, filter, conceptBar),
      h("div", { class: "controls" }, back, forward, undo, submit, oneKeyBox, status),
      keys,
    ),
  );

  const item = () => items[cur];

  function visibleConcepts() {
    const q = filter?.value.trim().toLowerCase() || "";
    return concepts.map((c, i) => ({ c, i })).filter(({ c }) => !q || c.toLowerCase().includes(q));
  }

  function renderConcepts() {
    const it = item();
    const buttons = visibleConcepts().map(({ c, i }, n) => {
      const on = mode ? stage.concept === i : !!it?.chosen.has(c);
      const key = n < 9 ? n + 1 : null;
      return h("button", {
        type: "button",
        class: "concept",
        "aria-pressed": on ? "true" : "false",
        "aria-label": key ? `${c} (key ${key})` : c,
        onclick: (event) => pick(i, event.timeStamp),
      }, key ? h("kbd", {}, key) : null, " ", c);
    });
    clear(conceptBar, buttons);
  }

  function renderState() {
    const it = item();
    const done = items.filter((x) => x.submitted).length;
    if (counts) {
      progress.textContent = `${counts.success + counts.awaiting_review + counts.awaiting_consensus_review} submitted · ${counts.pending} to do`;
    }
    position.textContent = it ? `${cur + 1} of ${items.length} in this session (${done} submitted)` : "";
    position.dataset.input = it ? it.input.id : "";
    const toLabel = it?.predicted && !it.dirty ? `To label · ${it.predicted}'s predictions drawn: check them` : "To label";
    badge.textContent = it ? (it.submitted ? (it.dirty ? "Submitted · changed, Enter to resubmit" : "Submitted") : toLabel) : "";
    badge.classList.toggle("done", !!it?.submitted);
    back.disabled = cur <= 0;
    forward.disabled = cur >= items.length - 1;
    submit.disabled = !it;
    undo.disabled = !items.some((x) => x.submitted);
    note.hidden = !it?.comment;
    note.textContent = it?.comment ? `Reviewer: ${it.comment}` : "";
    renderConcepts();
  }

  function edited(change) {
    const it = item();
    if (!it) return;
    change();
    it.dirty = true;
    renderState();
  }

  /// A concept picked by its key or button: `startedAt`, the time of that event, in one-key mode
  /// starts the submit's timing.
  function pick(i, startedAt) {
    const it = item();
    if (!it) return;
    if (mode) {
      stage.concept = i;
      stage.relabel(i);
      renderConcepts();
      return;
    }
    if (oneKey.checked) {
      edited(() => (it.chosen = new Set([concepts[i]])));
      send(startedAt);
      return;
    }
    edited(() => {
      const c = concepts[i];
      if (it.chosen.has(c)) it.chosen.delete(c);
      else it.chosen.add(c);
    });
  }

  /// The reviewers' comments on the person's approved and rejected inputs: asked when the
  /// screen opens and when the list is opened again, not on every submit.
  async function loadFeedback() {
    try {
      const { feedback } = await call("GET", userPath(`/tasks/${encodeURIComponent(taskId)}/feedback`));
      const words = { 54200: "approved", 54204: "rejected" };
      feedbackBox.hidden = feedback.length === 0;
      feedbackTitle.textContent = `Reviewers' comments on your work (${feedback.length})`;
      clear(feedbackList, feedback.map((f) => h("li", { "data-input": f.input_id },
        h("code", {}, f.input_id), ` ${words[f.status.code] || f.status.description}: `, h("q", {}, f.status.details))));
    } catch {
      // The comments come back with the server.
    }
  }

  async function refreshCounts() {
    try {
      const answer = await call("GET", `/v2/tasks/${encodeURIComponent(taskId)}/inputs/count?user_ids=${encodeURIComponent(me.user)}`);
      counts = answer.counts.find((c) => c.worker.user.id === me.user) || null;
      renderState();
    } catch {
      // The counts come back with the server; the outbox says it is away.
    }
  }

  /// Asks for more work (LABEL_START) and appends what is new, with the person's own earlier
  /// annotations on those inputs (a reload, or changes a reviewer asked for). It does not wait
  /// for the outbox: inputs whose labels are on their way are known and left out, and the
  /// server hands out more as it takes them (the outbox's progress asks again).
  function refill() {
    if (refilling) again = true;
    if (refilling || exhausted) return refilling;
    refilling = (async () => {
      const answer = await call("PUT", assignments, { action: "LABEL_START" });
      const known = new Set(items.map((x) => x.assignment.id));
      const fresh = answer.task_assignments.filter((a) => !known.has(a.id) && !outbox.pending(taskId, a.input.id));
      if (fresh.length === 0 && !outbox.entries().some((e) => e.task === taskId)) exhausted = true;
      const mine = new Map();
      if (fresh.length) {
        const q = fresh.map((a) => `input_ids=${encodeURIComponent(a.input.id)}`).join("&");
        const posted = await call("GET", `/v2/annotations?task_id=${encodeURIComponent(taskId)}&user_ids=${encodeURIComponent(me.user)}&${q}&per_page=1000`);
        for (const a of posted.annotations) mine.set(a.input_id, a);
      }
      const predicted = await predictions(task, fresh.map((a) => a.input.id).filter((id) => !mine.has(id)));
      const before = items.length;
      for (const a of fresh) {
        const earlier = mine.get(a.input.id);
        const start = earlier?.data || predicted.get(a.input.id);
        items.push({
          assignment: a,
          input: a.input,
          annotationId: earlier?.id || newId(),
          chosen: new Set((start?.concepts || []).filter((c) => c.value > 0).map((c) => c.id)),
          regions: (start?.regions || []).map((r) => fromApi(r, concepts)).filter(Boolean),
          submitted: false,
          // Who predicted what is drawn, while the person has not changed it.
          predicted: !earlier && predicted.has(a.input.id) ? assistantOf(task) : null,
          comment: a.status?.details || null,
        });
      }
      prefetch();
      renderState();
      if (waiting !== null && (fresh.length || exhausted)) {
        const startedAt = waiting;
        waiting = null;
        if (fresh.length) await show(before === 0 ? 0 : cur + 1, startedAt);
        else status.textContent = "Nothing left to label in this task for now. Thank you!";
      }
    })().finally(() => {
      refilling = null;
      // The outbox moved on while the server was asked: ask again with what it has now.
      if (again) {
        again = false;
        onOutbox();
      }
    });
    return refilling;
  }

  const ahead = () => items.slice(cur + 1).filter((x) => !x.submitted).length;

  /// As the outbox sends, the server can hand out more: ask while few inputs are queued.
  function onOutbox() {
    if (!gone && !exhausted && (waiting !== null || ahead() < REFILL)) refill()?.catch((e) => showError(e.message));
  }
  outbox.listeners.add(onOutbox);

  /// Shows input `n` after a submit, and records the time from the submitting key.
  async function show(n, startedAt) {
    await go(n);
    if (Number.isNaN(startedAt)) return;
    // The figure the bench reports: from the submitting key to the next input on screen.
    requestAnimationFrame(() => performance.measure("submit-to-next", { start: startedAt, end: performance.now() }));
  }

  function prefetch() {
    for (let i = cur + 1; i <= cur + AHEAD && i < items.length; i++) {
      mediaUrl(items[i].input).catch(() => {});
    }
  }

  /// Shows item `n`; resolves when its image is on screen.
  async function go(n) {
    if (n < 0 || n >= items.length) return;
    cur = n;
    const it = item();
    stage.setRegions(it.regions);
    renderState();
    prefetch();
    const label = `Input ${it.input.id}`;
    try {
      const isText = it.input?.data?.text && !it.input?.data?.image;
      const shown = isText ? { text: await inputText(it.input), label } : { url: await mediaUrl(it.input), label };
      // Another input may have been asked for while this one loaded.
      if (item() !== it) return;
      await stage.show(shown);
      stage.el.dataset.shown = it.input.id;
    } catch (e) {
      showError(`Input ${it.input.id}: ${e.message}`);
    }
    if (ahead() < REFILL) refill()?.catch((e) => showError(e.message));
  }

  function annotation(it) {
    const data = mode
      ? { regions: it.regions.map((r) => toApi(r, concepts)) }
      : { concepts: [...it.chosen].map((id) => ({ id, value: 1 })) };
    return { id: it.annotationId, input_id: it.input.id, task_id: taskId, data };
  }

  const assignments = userPath(`/tasks/${encodeURIComponent(taskId)}/assignments`);

  /// Enter: the current input's label goes to the outbox and the next input shows at once.
  async function send(startedAt = performance.now()) {
    const it = item();
    if (!it) return;
    if (it.submitted && !it.dirty) return go(cur + 1);
    if (!mode && it.chosen.size === 0) {
      status.textContent = `Pick a concept first (keys 1-${Math.min(9, concepts.length)}).`;
      return;
    }
    if (mode && it.regions.length === 0) {
      status.textContent = mode === "box" ? "Draw a box first: drag on the image." : "Draw a polygon first: click its points, Enter closes it.";
      return;
    }
    status.textContent = "";
    const calls = [];
    if (it.submitted) calls.push(["PUT", assignments, { action: "LABEL_WITHDRAW", input_id: it.input.id }]);
    calls.push(["POST", userPath("/annotations"), { annotations: [annotation(it)] }]);
    calls.push(["PUT", assignments, { action: "LABEL_SUBMIT", label_submit_config: { task_assignments: [{ id: it.assignment.id }] } }]);
    outbox.push({ label: `${it.submitted ? "The change to" : "The label of"} ${it.input.id}`, task: taskId, input: it.input.id, calls });
    it.submitted = true;
    it.dirty = false;
    if (cur + 1 < items.length) await show(cur + 1, startedAt);
    else if (exhausted) {
      renderState();
      status.textContent = "Nothing left to label in this task for now. Thank you!";
    } else {
      // The next inputs come once the server has taken this label.
      waiting = startedAt;
      renderState();
      status.textContent = "Getting the next inputs…";
      refill()?.catch((e) => showError(e.message));
    }
    outbox.settled().then(refreshCounts);
  }

  /// Z: the latest submission in this tab goes back to being labeled.
  async function undoLast() {
    let n = -1;
    for (let i = items.length - 1; i >= 0; i--) if (items[i].submitted) { n = i; break; }
    if (n < 0) return;
    const it = items[n];
    outbox.push({ label: `Undoing the submit of ${it.input.id}`, task: taskId, input: it.input.id, calls: [["PUT", assignments, { action: "LABEL_WITHDRAW", input_id: it.input.id }]] });
    it.submitted = false;
    it.dirty = false;
    await go(n);
    status.textContent = `Submit of ${it.input.id} undone: change it, then Enter.`;
    outbox.settled().then(refreshCounts);
  }

  function onKey(event) {
    if (gone || event.ctrlKey || event.metaKey) return;
    if (filter && event.target === filter) {
      if (event.key === "Enter" || event.key === "Escape") {
        if (event.key === "Enter" && visibleConcepts()[0]) pick(visibleConcepts()[0].i, event.timeStamp);
        filter.blur();
        event.preventDefault();
      }
      return;
    }
    if (typing(event)) return;
    if (stage.key(event)) {
      event.preventDefault();
      return;
    }
    const digit = /^[1-9]$/.test(event.key) ? Number(event.key) - 1 : -1;
    if (digit >= 0) {
      const c = visibleConcepts()[digit];
      if (c) pick(c.i, event.timeStamp);
    } else if (event.key === "Enter") {
      send(event.timeStamp);
    } else if (event.key === "ArrowLeft") {
      go(cur - 1);
    } else if (event.key === "ArrowRight") {
      go(cur + 1);
    } else if (event.key === "z" || event.key === "Z") {
      undoLast();
    } else if (event.key === "/" && filter) {
      filter.focus();
    } else return;
    event.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  filter?.addEventListener("input", renderConcepts);
  // Buttons keep no focus, so that Enter and Space stay the screen's keys, not a click.
  main.addEventListener("mousedown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });

  renderState();
  refreshCounts();
  loadFeedback();
  await refill();
  if (items.length) await go(0);
  else if (!exhausted) {
    // Labels from before a reload are still on their way; the next inputs follow them.
    waiting = NaN;
    status.textContent = "Getting the next inputs…";
  } else status.textContent = "Nothing to label in this task for now.";

  return () => {
    gone = true;
    document.removeEventListener("keydown", onKey);
    outbox.listeners.delete(onOutbox);
    stage.destroy();
  };
}

/// The user id of the task's assistant, if it has one (`workflow_id` is the deprecated name).
function assistantOf(task) {
  return task.ai_assistant?.workflow?.id || task.ai_assistant?.workflow_id || null;
}

/// AI assist: the task's assistant's predictions on `inputIds`, merged per input, as the
/// starting point of an input the person has not annotated (they edit it and submit it as
/// their own). ListAnnotations filtered to the assistant answers only the predictions shown
/// (at or above `min_threshold`); without them, or without an answer, people start empty.
async function predictions(task, inputIds) {
  const byInput = new Map();
  const assistant = assistantOf(task);
  if (!assistant || inputIds.length === 0) return byInput;
  const q = inputIds.map((id) => `input_ids=${encodeURIComponent(id)}`).join("&");
  let answer;
  try {
    answer = await call("GET", `/v2/annotations?task_id=${encodeURIComponent(task.id)}&user_ids=${encodeURIComponent(assistant)}&${q}&per_page=1000`);
  } catch {
    return byInput;
  }
  for (const a of answer.annotations) {
    const data = byInput.get(a.input_id) || { concepts: [], regions: [] };
    data.concepts.push(...(a.data?.concepts || []));
    data.regions.push(...(a.data?.regions || []));
    byInput.set(a.input_id, data);
  }
  return byInput;
}

function keysHelp(mode, oneKey) {
  const common = "Enter submits and shows the next input · ← → back and forward · Z undoes the last submit";
  if (mode === "box") return `Keys: 1-9 pick the concept (or relabel the selected box) · drag to draw · click a box to select, drag to move, corners to resize · arrows move it (Alt+arrows resize) · Delete removes · Tab selects the next · ${common}`;
  if (mode === "polygon") return `Keys: 1-9 pick the concept · click to add points, Enter or a click on the first point closes · Esc cancels · click a polygon to select, drag to move · Delete removes · ${common}`;
  if (oneKey) return `Keys (one-key mode): 1-9 pick a concept and submit at once · ← → back and forward (a digit changes a submitted input) · Z undoes the last submit`;
  return `Keys: 1-9 toggle a concept · ${common}`;
}
