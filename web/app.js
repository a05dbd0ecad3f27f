// The app's frame: who is signed in, which screen the path names, the header's outbox status
// and the error banner. Screens live in their own modules and get a `main` element to fill.

import { ApiError, call, outbox, session } from "./api.js";
import { clear, h } from "./dom.js";

const main = document.getElementById("main");
const banner = document.getElementById("error");
let leaving = null; // the current screen's clean-up

/// Shows an error in words in the banner (null hides it).
export function showError(message) {
  banner.hidden = !message;
  banner.textContent = message || "";
}

export function setWhere(text) {
  document.getElementById("where").textContent = text || "";
  document.title = text ? `${text} · annotask` : "annotask";
}

export function navigate(path) {
  history.pushState(null, "", path);
  route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href^='/']");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || link.target) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", () => route());

function renderOutbox() {
  const el = document.getElementById("outbox");
  const waiting = outbox.entries().length;
  const parts = [];
  if (waiting) parts.push(`${waiting} label${waiting === 1 ? "" : "s"} waiting to be sent`);
  if (outbox.offline) parts.push("server not answering, retrying");
  clear(el, parts.join(" · "));
  el.classList.toggle("warn", outbox.offline);
  if (outbox.failed) {
    clear(
      banner,
      h("span", {}, outbox.failed.message, " "),
      h("button", { type: "button", onclick: () => outbox.retry() }, "Retry sending"),
      " ",
      h("button", { type: "button", onclick: () => outbox.dismiss() }, "Discard this label"),
    );
    banner.hidden = false;
  }
}
outbox.listeners.add(renderOutbox);

function renderWho() {
  const me = session.load();
  const el = document.getElementById("who");
  if (!me) return clear(el);
  clear(
    el,
    h("span", { "aria-label": "Signed in as" }, me.user),
    " ",
    h("button", {
      type: "button",
      "aria-label": "Sign out",
      onclick: () => {
        session.clear();
        navigate("/");
      },
    }, "Sign out"),
  );
}

async function signIn() {
  setWhere("Sign in");
  // Does this server want a key? An open server answers who-am-i without one.
  let needsKey = false;
  try {
    await call("GET", "/v2/users/me", undefined, { key: "" });
  } catch (e) {
    needsKey = e.http === 401;
    if (e.offline) showError(e.message);
  }
  const key = h("input", { id: "key", type: "password", autocomplete: "off", "aria-label": "API key" });
  const user = h("input", { id: "user", type: "text", autocomplete: "username", "aria-label": "User id", pattern: "[A-Za-z0-9_-]+" });
  const userRow = h("p", { hidden: needsKey }, h("label", { for: "user" }, "User id"), " ", user);
  const note = h("p", { class: "note" });
  const form = h(
    "form",
    { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    needsKey ? h("p", {}, h("label", { for: "key" }, "API key"), " ", key) : null,
    userRow,
    note,
    h("button", { type: "submit", "aria-label": "Sign in" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    const token = needsKey ? key.value.trim() : "";
    let id = user.value.trim();
    try {
      const me = await call("GET", "/v2/users/me", undefined, { key: token });
      id = me.user.id;
    } catch (e) {
      if (e.http === 401) return showError("That API key is not valid.");
      if (e.http !== 404) return showError(e.message);
      // The key names no user: the person says who they are.
      if (userRow.hidden) {
        userRow.hidden = false;
        note.textContent = "This server's key names no user: give your user id too.";
        user.focus();
        return;
      }
    }
    if (!/^[A-Za-z0-9_-]+$/.test(id)) {
      return showError("A user id uses letters, digits, - and _ only.");
    }
    session.save({ key: token, user: id });
    route();
  });
  clear(main, form);
  (needsKey ? key : user).focus();
}

/// `/`: the tasks the person labels and reviews, each with their own counts and a way in.
async function taskList() {
  setWhere("Tasks");
  const me = session.load();
  const q = encodeURIComponent(me.user);
  const [labeling, reviewing] = await Promise.all([
    call("GET", `/v2/tasks?worker_user_ids=${q}&per_page=1000`),
    call("GET", `/v2/tasks?review_user_ids=${q}&per_page=1000`),
  ]);
  const rows = new Map();
  for (const t of labeling.tasks) rows.set(t.id, { task: t, label: true });
  for (const t of reviewing.tasks) rows.set(t.id, { ...(rows.get(t.id) || { task: t }), review: true });
  const list = h("ul", { class: "tasks", "aria-label": "Your tasks" });
  if (rows.size === 0) {
    list.append(h("li", {}, `No task names ${me.user} as a worker or a reviewer.`));
  }
  for (const { task, label, review } of rows.values()) {
    const counts = h("span", { class: "counts", "aria-label": `Your counts on ${task.id}` }, "…");
    list.append(
      h(
        "li",
        {},
        h("div", { class: "name" }, h("strong", {}, task.name || task.id), " ", task.name ? h("code", {}, task.id) : null, " ", h("span", { class: "type" }, (task.type || "").toLowerCase().replaceAll("_", " "))),
        counts,
        h(
          "nav",
          {},
          label ? h("a", { href: `/label/${task.id}`, "aria-label": `Label ${task.id}` }, "Label") : null,
          review ? h("a", { href: `/review/${task.id}`, "aria-label": `Review ${task.id}` }, "Review") : null,
          h("a", { href: `/tasks/${task.id}`, "aria-label": `Team view of ${task.id}` }, "Team"),
        ),
      ),
    );
    if (label) {
      call("GET", `/v2/tasks/${task.id}/inputs/count?user_ids=${q}`).then((answer) => {
        const c = answer.counts.find((x) => x.worker.user.id === me.user);
        counts.textContent = c
          ? `${c.pending} to do · ${c.awaiting_review + c.awaiting_consensus_review} awaiting review · ${c.success} done · ${c.review_denied} rejected`
          : "nothing assigned yet";
      }, (e) => (counts.textContent = e.message));
    } else {
      counts.textContent = "reviewer";
    }
  }
  clear(main, h("h1", {}, "Your tasks"), list);
}

const screens = {
  label: () => import("./label.js"),
  review: () => import("./review.js"),
  tasks: () => import("./team.js"),
};

async function route() {
  if (leaving) {
    leaving();
    leaving = null;
  }
  showError(null);
  renderWho();
  if (!session.load()) return signIn();
  outbox.run();
  const [, screen, id] = location.pathname.split("/").map(decodeURIComponent);
  try {
    if (screen && screens[screen] && id) {
      const module = await screens[screen]();
      leaving = (await module.show(main, id)) || null;
    } else {
      await taskList();
    }
  } catch (e) {
    if (e instanceof ApiError && e.http === 401) session.clear();
    showError(e.message);
    if (!(e instanceof ApiError)) console.error(e);
  }
}

renderOutbox();
route();
