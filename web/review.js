// `/review/{task_id}`: REVIEW_START's queue, an input at a time, every worker's version side
// by side in the worker's colour, and the decision by key: `a` approves, `r` rejects, `c`
// requests changes with a comment (typed in the field it opens, sent by Enter, stored in the
// reviewer's work file and shown to the worker); `A` and `R` (with Shift) open the same field
// for an approval or a rejection with a comment, which is optional there; with several
// versions, 1-9 choose the one the decision is about.
// Approving one version of several rejects the others (the input gets one answer); rejecting
// or requesting changes concerns the chosen version alone.

import { call, inputText, mediaUrl, outbox, userPath } from "./api.js";
import { showError, setWhere } from "./app.js";
import { clear, colour, h, typing } from "./dom.js";
import { fromApi, Stage } from "./regions.js";

export async function show(main, taskId) {
  const { task } = await call("GET", `/v2/tasks/${encodeURIComponent(taskId)}`);
  const concepts = task.concept_ids || [];
  const detection = ["BOUNDING_BOX_DETECTION", "POLYGON_DETECTION"].includes(task.type);
  setWhere(`Review · ${task.name || task.id}`);
  const assignments = userPath(`/tasks/${encodeURIComponent(taskId)}/assignments`);

  let queue = []; // [{input, versions: [{assignment, worker, annotations}]}]
  let chosen = 0;
  let gone = false;
  let decided = 0;

  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const why = h("p", { class: "why", "aria-label": "Why this input is here" });
  const versions = h("div", { class: "versions", role: "group", "aria-label": "Versions" });
  const head = h("div", { class: "top" }, h("h1", {}, `Review: ${task.name || task.id}`), h("span", { class: "position" }));
  const buttons = h("div", { class: "controls" },
    h("button", { type: "button", class: "primary", "aria-label": "Approve (A)", onclick: () => decide("APPROVE") }, "Approve (a)"),
    h("button", { type: "button", "aria-label": "Reject (R)", onclick: () => decide("REJECT") }, "Reject (r)"),
    h("button", { type: "button", "aria-label": "Request changes (C)", onclick: () => askComment("REQUEST_CHANGES") }, "Request changes (c)"),
    h("button", { type: "button", "aria-label": "Approve with comment (Shift+A)", onclick: () => askComment("APPROVE") }, "Approve with comment (A)"),
    h("button", { type: "button", "aria-label": "Reject with comment (Shift+R)", onclick: () => askComment("REJECT") }, "Reject with comment (R)"),
    status,
  );
  // The comment of the decision the field was opened for (what the worker should change, or a
  // word on an approval or a rejection): Enter sends the decision, Escape leaves it unsent.
  let commenting = null;
  const PROMPTS = {
    REQUEST_CHANGES: "What should the worker change? Enter sends, Escape cancels",
    APPROVE: "A word for the worker (optional). Enter approves, Escape cancels",
    REJECT: "Why it is rejected (optional). Enter rejects, Escape cancels",
  };
  const comment = h("input", {
    type: "text", id: "review-comment", "aria-label": "Comment", maxlength: 2000, autocomplete: "off",
    onkeydown: (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        const text = comment.value.trim();
        const decision = commenting;
        closeComment();
        decide(decision, text || undefined);
      } else if (event.key === "Escape") {
        event.preventDefault();
        closeComment();
      }
    },
  });
  const commentLabel = h("label", { for: "review-comment" }, "Comment");
  const commentBox = h("p", { class: "review-comment", hidden: true }, commentLabel, " ", comment);
  function askComment(decision) {
    if (!queue[0]) return;
    commenting = decision;
    comment.placeholder = PROMPTS[decision];
    commentLabel.textContent = { REQUEST_CHANGES: "Comment", APPROVE: "Comment on the approval", REJECT: "Comment on the rejection" }[decision];
    commentBox.hidden = false;
    comment.focus();
  }
  function closeComment() {
    commentBox.hidden = true;
    comment.value = "";
    comment.blur();
  }
  clear(main, h("section", { class: "review-screen", "aria-label": `Reviewing ${task.id}` }, head, why, versions, buttons, commentBox,
    h("p", { class: "keys" }, "Keys: a approve · r reject · c request changes · Shift+A, Shift+R approve or reject with a comment · 1-9 choose the version the decision is about (approving one rejects the others)")));

  function reason(group) {
    const strategy = task.review?.strategy;
    if (strategy === "CONSENSUS") {
      const need = task.review?.consensus_strategy_info?.approval_threshold_labelers || task.review?.consensus_strategy_info?.approval_threshold || 2;
      return group.versions.length > 1
        ? `Consensus not reached: ${group.versions.length} workers' versions do not agree (${need} agreeing labelers approve an input).`
        : `Consensus not reached: ${need} agreeing labelers are needed and only ${group.versions[0].worker} labeled it.`;
    }
    if (strategy === "MANUAL") return "Sampled for review by hand.";
    return "Awaiting review.";
  }

  async function load() {
    await outbox.settled();
    const answer = await call("PUT", assignments, { action: "REVIEW_START" });
    const groups = new Map();
    for (const a of answer.task_assignments) {
      const id = a.input.id;
      if (!groups.has(id)) groups.set(id, { input: a.input, versions: [] });
      groups.get(id).versions.push({ assignment: a, worker: a.worker.user.id, annotations: [] });
    }
    if (groups.size) {
      const q = [...groups.keys()].map((id) => `input_ids=${encodeURIComponent(id)}`).join("&");
      const { annotations } = await call("GET", `/v2/annotations?task_id=${encodeURIComponent(taskId)}&${q}&per_page=1000`);
      for (const a of annotations) {
        const v = groups.get(a.input_id)?.versions.find((v) => v.worker === a.worker.user.id);
        if (v) v.annotations.push(a);
      }
    }
    queue = [...groups.values()];
    for (const g of queue.slice(1, 3)) mediaUrl(g.input).catch(() => {});
  }

  async function render() {
    const group = queue[0];
    chosen = Math.min(chosen, (group?.versions.length || 1) - 1);
    head.querySelector(".position").textContent = `${decided} decided in this session`;
    if (!group) {
      why.textContent = "";
      clear(versions, h("p", {}, "Nothing awaits your review in this task for now."));
      return;
    }
    why.textContent = reason(group);
    const isText = group.input?.data?.text && !group.input?.data?.image;
    const url = isText ? null : await mediaUrl(group.input).catch((e) => (showError(e.message), null));
    const text = isText ? await inputText(group.input) : null;
    const panels = group.versions.map((v, n) => {
      const concepts_ = v.annotations.flatMap((a) => a.data?.concepts || []).filter((c) => c.value > 0).map((c) => c.id);
      const regions = v.annotations.flatMap((a) => (a.data?.regions || []).map((r) => fromApi(r, concepts)).filter(Boolean));
      const stage = new Stage({ concepts, label: `${v.worker}'s version of input ${group.input.id}` });
      const panel = h("figure", {
        class: n === chosen ? "version chosen" : "version",
        "aria-label": `Version ${n + 1}: ${v.worker}`,
        "aria-current": n === chosen ? "true" : null,
        onclick: () => { chosen = n; render(); },
      },
      h("figcaption", {}, h("kbd", {}, n + 1), " ", h("span", { class: "swatch" }), " ", h("strong", {}, v.worker),
        detection ? ` · ${regions.length} region${regions.length === 1 ? "" : "s"}` : ` · ${concepts_.join(", ") || "no concept"}`),
      stage.el);
      panel.querySelector(".swatch").style.setProperty("background", colour(n));
      stage.show({ url, text, label: `${v.worker}'s version of input ${group.input.id}` }).then(() => stage.setLayers([{ name: v.worker, regions }]));
      panel.stage = stage;
      return panel;
    });
    for (const old of versions.querySelectorAll("figure")) old.stage?.destroy();
    clear(versions, panels);
  }

  /// A decision on the chosen version (approving one also rejects the others), with the
  /// reviewer's comment when they wrote one.
  async function decide(decision, note) {
    const group = queue[0];
    if (!group) return;
    const target = group.versions[chosen];
    const calls = [];
    const put = (d, vs) => {
      const config = { task_assignments: vs.map((v) => ({ id: v.assignment.id })) };
      if (note && d === decision) config.comment = note;
      calls.push(["PUT", assignments, { action: `REVIEW_${d}`, [`review_${d.toLowerCase()}_config`]: config }]);
    };
    put(decision, [target]);
    const others = group.versions.filter((v) => v !== target);
    if (decision === "APPROVE" && others.length) put("REJECT", others);
    const words = { APPROVE: "approved", REJECT: "rejected", REQUEST_CHANGES: "sent back for changes" }[decision];
    outbox.push({ label: `The review of ${group.input.id}`, task: taskId, input: group.input.id, calls });
    const done = decision === "APPROVE" ? group.versions : [target];
    group.versions = group.versions.filter((v) => !done.includes(v));
    if (group.versions.length === 0) queue.shift();
    decided++;
    status.textContent = `${target.worker}'s version of ${group.input.id} ${words}.`;
    chosen = 0;
    if (queue.length === 0) await load().catch((e) => showError(e.message));
    await render();
  }

  function onKey(event) {
    if (gone || typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const digit = /^[1-9]$/.test(event.key) ? Number(event.key) - 1 : -1;
    if (digit >= 0 && queue[0] && digit < queue[0].versions.length) {
      chosen = digit;
      render();
    } else if (event.key === "a") decide("APPROVE");
    else if (event.key === "r") decide("REJECT");
    else if (event.key === "c") askComment("REQUEST_CHANGES");
    else if (event.key === "A") askComment("APPROVE");
    else if (event.key === "R") askComment("REJECT");
    else return;
    event.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  main.addEventListener("mousedown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });

  await load();
  await render();
  return () => {
    gone = true;
    document.removeEventListener("keydown", onKey);
    for (const old of versions.querySelectorAll("figure")) old.stage?.destroy();
  };
}
