// Building the page without a framework: `h` makes an element from a tag, attributes and
// children; `svg` the same in the SVG namespace. Attributes starting with `on` are listeners.

const SVG = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(el, ...children) {
  el.replaceChildren();
  return build(el, {}, children);
}

/// Whether a key event comes from a field the person types in, where shortcuts stay quiet.
export function typing(event) {
  const t = event.target;
  return t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
}

/// A colour for the n-th worker or concept: distinct hues, readable on white and on photos.
export function colour(n) {
  const hues = [210, 25, 130, 285, 50, 175, 340, 95, 250];
  return `hsl(${hues[n % hues.length]} 85% 45%)`;
}
