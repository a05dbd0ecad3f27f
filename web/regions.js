// The stage: an input shown as large as the window allows, and over it the regions of a
// detection task, drawn and edited with the mouse and the keyboard. Regions are kept in the
// API's coordinates (fractions 0..1 of the image: top_row, left_col, bottom_row, right_col;
// polygon points {row, col}), so they mean the same at every window size.

import { clear, colour, h, svg } from "./dom.js";

const HANDLE = 7; // px: half the side of a resize handle
const CLOSE = 10; // px: a click this near the first point closes a polygon
const MIN_BOX = 4; // px: smaller drags are clicks, not boxes

const clamp = (x) => Math.min(1, Math.max(0, x));
const round = (x) => Math.round(x * 1e6) / 1e6;

/// The API's region for a stage region, and back.
export function toApi(region, concepts) {
  const concept = { id: concepts[region.concept], value: 1 };
  const region_info = region.box
    ? { bounding_box: Object.fromEntries(Object.entries(region.box).map(([k, v]) => [k, round(v)])) }
    : { polygon: { points: region.points.map((p) => ({ row: round(p.row), col: round(p.col) })) } };
  return { region_info, data: { concepts: [concept] } };
}

export function fromApi(region, concepts) {
  const id = region?.data?.concepts?.[0]?.id;
  const concept = Math.max(0, concepts.indexOf(id));
  const info = region.region_info || {};
  if (info.bounding_box) return { concept, box: { ...info.bounding_box } };
  if (info.polygon) return { concept, points: info.polygon.points.map((p) => ({ ...p })) };
  return null;
}

export class Stage {
  /// `mode`: "box", "polygon", or null (no drawing: classification and review).
  constructor({ mode = null, concepts = [], label = "Input", onchange = () => {} } = {}) {
    this.mode = mode;
    this.concepts = concepts;
    this.onchange = onchange;
    this.concept = 0;
    this.regions = [];
    this.selected = -1;
    this.draft = null; // a polygon being drawn: [{row, col}]
    this.drag = null;
    this.img = h("img", { alt: "", draggable: "false", referrerpolicy: "no-referrer" });
    this.overlay = svg("svg", { class: "overlay", role: mode ? "application" : "presentation", "aria-label": mode ? `Drawing area: ${mode === "box" ? "drag to draw a box" : "click to add points, Enter or a click on the first point closes"}` : null, tabindex: mode ? "0" : null });
    this.text = h("div", { class: "text-input", hidden: true, tabindex: "0" });
    this.frame = h("div", { class: "frame" }, this.img, this.overlay);
    this.el = h("div", { class: "stage", role: "img", "aria-label": label }, this.frame, this.text);
    this.fit = () => this.layout();
    this.resize = new ResizeObserver(this.fit);
    this.resize.observe(this.el);
    if (mode) this.listen();
  }

  destroy() {
    this.resize.disconnect();
  }

  /// Shows an image (a URL) or a text; resolves once it is on screen.
  async show({ url = null, text = null, label = "Input" }) {
    this.el.setAttribute("aria-label", label);
    this.draft = null;
    if (text !== null) {
      this.frame.hidden = true;
      this.text.hidden = false;
      this.text.textContent = text;
      return;
    }
    this.text.hidden = true;
    this.frame.hidden = false;
    if (!url) {
      this.img.removeAttribute("src");
      return;
    }
    if (this.img.getAttribute("src") !== url) {
      const next = new Image();
      next.src = url;
      try {
        await next.decode();
      } catch {
        // A broken image is still shown (as broken), with the error the browser gives.
      }
      this.img.src = url;
      this.natural = { w: next.naturalWidth || 1, h: next.naturalHeight || 1 };
    }
    this.layout();
  }

  /// Sizes the image to the largest that fits the stage, keeping its proportions.
  layout() {
    if (!this.natural || this.frame.hidden) return;
    const box = this.el.getBoundingClientRect();
    const scale = Math.min(box.width / this.natural.w, box.height / this.natural.h) || 1;
    const w = Math.max(1, Math.floor(this.natural.w * scale));
    const hgt = Math.max(1, Math.floor(this.natural.h * scale));
    this.img.style.width = `${w}px`;
    this.img.style.height = `${hgt}px`;
    // Enlarged a lot, pixels stay sharp, so that a box's edge can be placed on them.
    this.img.classList.toggle("pixelated", scale >= 2);
    this.size = { w, h: hgt };
    this.overlay.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
    this.overlay.setAttribute("width", w);
    this.overlay.setAttribute("height", hgt);
    this.draw();
  }

  setRegions(regions) {
    this.regions = regions.map((r) => structuredClone(r));
    this.selected = -1;
    this.draft = null;
    this.draw();
  }

  /// Regions of several people at once, each in their own colour (review).
  setLayers(layers) {
    this.layers = layers;
    this.draw();
  }

  changed() {
    this.draw();
    this.onchange(this.regions);
  }

  point(event) {
    const r = this.overlay.getBoundingClientRect();
    return { col: clamp((event.clientX - r.left) / r.width), row: clamp((event.clientY - r.top) / r.height) };
  }

  px(p) {
    return { x: p.col * this.size.w, y: p.row * this.size.h };
  }

  /// What is under a point: a handle of the selected box, a region, or nothing.
  hit(p) {
    const near = (a, b) => Math.abs((a.col - b.col) * this.size.w) <= HANDLE + 2 && Math.abs((a.row - b.row) * this.size.h) <= HANDLE + 2;
    const sel = this.regions[this.selected];
    if (sel?.box) {
      const b = sel.box;
      for (const [name, row, col] of [["nw", b.top_row, b.left_col], ["ne", b.top_row, b.right_col], ["sw", b.bottom_row, b.left_col], ["se", b.bottom_row, b.right_col]]) {
        if (near(p, { row, col })) return { index: this.selected, handle: name };
      }
    }
    for (let i = this.regions.length - 1; i >= 0; i--) {
      const r = this.regions[i];
      if (r.box && p.row >= r.box.top_row && p.row <= r.box.bottom_row && p.col >= r.box.left_col && p.col <= r.box.right_col) return { index: i };
      if (r.points && inside(p, r.points)) return { index: i };
    }
    return null;
  }

  listen() {
    const o = this.overlay;
    o.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || !this.size) return;
      o.focus({ preventScroll: true });
      o.setPointerCapture(event.pointerId);
      const p = this.point(event);
      if (this.mode === "polygon" && this.draft) {
        const first = this.px(this.draft[0]);
        const here = this.px(p);
        if (this.draft.length >= 3 && Math.hypot(first.x - here.x, first.y - here.y) <= CLOSE) this.closePolygon();
        else {
          this.draft.push(p);
          this.draw();
        }
        return;
      }
      const hit = this.hit(p);
      if (hit) {
        this.selected = hit.index;
        this.drag = { kind: hit.handle ? "resize" : "move", handle: hit.handle, start: p, original: structuredClone(this.regions[hit.index]), moved: false };
        this.draw();
        return;
      }
      this.selected = -1;
      if (this.mode === "box") this.drag = { kind: "new", start: p, now: p };
      else {
        this.draft = [p];
        this.draw();
      }
    });
    o.addEventListener("pointermove", (event) => {
      if (!this.drag) return;
      const p = this.point(event);
      const d = this.drag;
      d.moved = true;
      if (d.kind === "new") d.now = p;
      else if (d.kind === "move") {
        this.regions[this.selected] = moved(d.original, p.row - d.start.row, p.col - d.start.col);
      } else {
        const b = { ...d.original.box };
        if (d.handle.includes("n")) b.top_row = p.row;
        if (d.handle.includes("s")) b.bottom_row = p.row;
        if (d.handle.includes("w")) b.left_col = p.col;
        if (d.handle.includes("e")) b.right_col = p.col;
        this.regions[this.selected] = { ...d.original, box: ordered(b) };
      }
      this.draw();
    });
    const end = (event) => {
      const d = this.drag;
      this.drag = null;
      if (!d) return;
      if (d.kind === "new") {
        const a = this.px(d.start);
        const b = this.px(this.point(event));
        if (Math.abs(a.x - b.x) >= MIN_BOX && Math.abs(a.y - b.y) >= MIN_BOX) {
          this.regions.push({ concept: this.concept, box: ordered({ top_row: d.start.row, left_col: d.start.col, bottom_row: this.point(event).row, right_col: this.point(event).col }) });
          this.selected = this.regions.length - 1;
          this.changed();
        } else this.draw();
      } else if (d.moved) this.changed();
    };
    o.addEventListener("pointerup", end);
    o.addEventListener("pointercancel", end);
  }

  closePolygon() {
    if (!this.draft || this.draft.length < 3) return false;
    this.regions.push({ concept: this.concept, points: this.draft });
    this.draft = null;
    this.selected = this.regions.length - 1;
    this.changed();
    return true;
  }

  /// The keys of drawing; answers whether it used the key.
  key(event) {
    if (!this.mode) return false;
    const sel = this.regions[this.selected];
    const step = event.shiftKey ? 0.05 : 0.01;
    const arrows = { ArrowUp: [-step, 0], ArrowDown: [step, 0], ArrowLeft: [0, -step], ArrowRight: [0, step] };
    if (event.key === "Enter" && this.draft) return this.closePolygon() || true;
    if (event.key === "Escape") {
      if (this.draft) this.draft = null;
      else this.selected = -1;
      this.draw();
      return true;
    }
    if (event.key === "Tab" && this.regions.length && document.activeElement === this.overlay) {
      const n = this.regions.length;
      this.selected = event.shiftKey ? (this.selected - 1 + n) % n : (this.selected + 1) % n;
      this.draw();
      return true;
    }
    if (!sel) return false;
    if (event.key === "Delete" || event.key === "Backspace") {
      this.regions.splice(this.selected, 1);
      this.selected = -1;
      this.changed();
      return true;
    }
    if (arrows[event.key]) {
      const [dr, dc] = arrows[event.key];
      if (event.altKey && sel.box) {
        // Alt+arrows resize: the bottom-right corner moves.
        this.regions[this.selected] = { ...sel, box: ordered({ ...sel.box, bottom_row: clamp(sel.box.bottom_row + dr), right_col: clamp(sel.box.right_col + dc) }) };
      } else this.regions[this.selected] = moved(sel, dr, dc);
      this.changed();
      return true;
    }
    return false;
  }

  /// Gives the selected region the n-th concept (a concept key while a region is selected).
  relabel(n) {
    const sel = this.regions[this.selected];
    if (!sel) return false;
    sel.concept = n;
    this.changed();
    return true;
  }

  draw() {
    if (!this.size) return;
    const shapes = [];
    const shape = (r, stroke, attrs) => {
      if (r.box) {
        const a = this.px({ row: r.box.top_row, col: r.box.left_col });
        const b = this.px({ row: r.box.bottom_row, col: r.box.right_col });
        return svg("rect", { x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y, stroke, ...attrs });
      }
      const pts = r.points.map((p) => this.px(p)).map((p) => `${p.x},${p.y}`).join(" ");
      return svg("polygon", { points: pts, stroke, ...attrs });
    };
    for (const [n, layer] of (this.layers || []).entries()) {
      for (const r of layer.regions) shapes.push(shape(r, colour(n), { class: "region layer", "aria-label": `${layer.name}: ${this.concepts[r.concept]}` }));
    }
    this.regions.forEach((r, i) => {
      const name = `${r.box ? "Box" : "Polygon"} ${i + 1}: ${this.concepts[r.concept]}`;
      shapes.push(shape(r, colour(r.concept), { class: i === this.selected ? "region selected" : "region", "aria-label": name, "data-index": i }));
      if (i === this.selected && r.box) {
        for (const [row, col] of [[r.box.top_row, r.box.left_col], [r.box.top_row, r.box.right_col], [r.box.bottom_row, r.box.left_col], [r.box.bottom_row, r.box.right_col]]) {
          const p = this.px({ row, col });
          shapes.push(svg("rect", { class: "handle", x: p.x - HANDLE / 2, y: p.y - HANDLE / 2, width: HANDLE, height: HANDLE }));
        }
      }
    });
    const d = this.drag;
    if (d?.kind === "new") shapes.push(shape({ box: ordered({ top_row: d.start.row, left_col: d.start.col, bottom_row: d.now.row, right_col: d.now.col }) }, colour(this.concept), { class: "region drawing" }));
    if (this.draft) {
      const pts = this.draft.map((p) => this.px(p));
      shapes.push(svg("polyline", { class: "region drawing", stroke: colour(this.concept), points: pts.map((p) => `${p.x},${p.y}`).join(" ") }));
      shapes.push(svg("circle", { class: "first-point", cx: pts[0].x, cy: pts[0].y, r: CLOSE / 2 }));
    }
    clear(this.overlay, shapes);
  }
}

function ordered(b) {
  return {
    top_row: clamp(Math.min(b.top_row, b.bottom_row)),
    left_col: clamp(Math.min(b.left_col, b.right_col)),
    bottom_row: clamp(Math.max(b.top_row, b.bottom_row)),
    right_col: clamp(Math.max(b.left_col, b.right_col)),
  };
}

/// A region moved by (dr, dc), kept inside the image whole.
function moved(r, dr, dc) {
  if (r.box) {
    const b = r.box;
    dr = Math.min(Math.max(dr, -b.top_row), 1 - b.bottom_row);
    dc = Math.min(Math.max(dc, -b.left_col), 1 - b.right_col);
    return { ...r, box: { top_row: b.top_row + dr, left_col: b.left_col + dc, bottom_row: b.bottom_row + dr, right_col: b.right_col + dc } };
  }
  const rows = r.points.map((p) => p.row);
  const cols = r.points.map((p) => p.col);
  dr = Math.min(Math.max(dr, -Math.min(...rows)), 1 - Math.max(...rows));
  dc = Math.min(Math.max(dc, -Math.min(...cols)), 1 - Math.max(...cols));
  return { ...r, points: r.points.map((p) => ({ row: p.row + dr, col: p.col + dc })) };
}

function inside(p, points) {
  let yes = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const a = points[i];
    const b = points[j];
    if (a.row > p.row !== b.row > p.row && p.col < ((b.col - a.col) * (p.row - a.row)) / (b.row - a.row) + a.col) yes = !yes;
  }
  return yes;
}
