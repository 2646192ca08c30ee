// Building the DOM without markup strings. Everything a station, a user or the API sends
// is untrusted text: it only ever becomes a text node or an attribute value, never HTML.
// There is deliberately no way to set innerHTML through h().

const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set([
  "svg", "g", "path", "line", "polyline", "rect", "circle", "text", "title", "defs",
  "clipPath", "tspan",
]);

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Stop"}, "Stop", child, ...)
 * Props: `class`, `style` (object), `dataset` (object), `on<event>` (listener),
 * `value`/`checked`/`disabled`/`selected`/`hidden` (properties), anything else becomes an
 * attribute (null/false leave it out). Children: nodes, strings, numbers, arrays, null.
 */
export function h(tag, props, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "innerHTML" || key === "outerHTML") throw new Error("h(): no markup, use children");
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (["value", "checked", "disabled", "selected", "hidden", "open"].includes(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form field: label + input/select/textarea, wired with for/id. */
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", { id: hintId, class: "hint" }, hint) : null);
}

/** <select> from [value, label] pairs (or plain values). */
export function select(props, options, selected) {
  return h("select", props, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value, selected: String(value) === String(selected ?? "") }, label);
  }));
}

/** Run `fn` after `ms` of quiet (search boxes). */
export function debounce(fn, ms = 250) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
