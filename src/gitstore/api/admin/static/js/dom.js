// Small DOM helpers. Text is always set with textContent (never innerHTML): everything shown
// comes from the catalogue and must not become markup.

/** h("button", {type: "button", onclick: fn, class: "x"}, "text", child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (key === "checked" || key === "selected" || key === "disabled") {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
export function uid(prefix = "f") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** Announce a message to screen readers (and keep it visible in the status region). */
export function announce(message) {
  const region = document.getElementById("status");
  if (region) region.textContent = message;
}

/** A visible message box: kind is "error", "ok" or "info". */
export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/** Short commit id. */
export function short(sha) {
  return sha ? String(sha).slice(0, 10) : "";
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function time(iso) {
  return h("time", { datetime: iso || "" }, when(iso));
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** A table with a caption, header names and rows of cells (nodes or text). */
export function table(caption, headers, rows, emptyText = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty" }, emptyText);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      // data-label: on a phone each row is shown as a small card of "header: value" lines
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) => h("td", { "data-label": headers[i] }, h("div", {}, cell)))))),
    ),
  );
}

/**
 * Ask for confirmation in a modal <dialog> (focus moves into it, Escape cancels, focus goes
 * back to the opener). Resolves true when confirmed.
 */
export function confirmDialog({ title, body, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uid("dlg");
    const dialog = h("dialog", { "aria-labelledby": titleId, class: "dialog" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      if (opener && typeof opener.focus === "function") opener.focus();
      resolve(answer);
    };
    const cancel = h("button", { type: "button", onclick: () => done(false) }, "Cancel");
    const ok = h(
      "button",
      { type: "button", class: danger ? "danger" : "primary", onclick: () => done(true) },
      confirmLabel,
    );
    dialog.append(
      h("h2", { id: titleId }, title),
      h("div", { class: "dialog-body" }, body),
      h("div", { class: "actions" }, cancel, ok),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Show a field-level diff ([{path, op, old, new}]) as a definition table. */
export function diffTable(caption, changes) {
  const show = (value) =>
    value === null || value === undefined ? h("span", { class: "muted" }, "—") : h("code", {}, typeof value === "string" ? value : JSON.stringify(value));
  return table(
    caption,
    ["Field", "Change", "Before", "After"],
    changes.map((c) => [h("code", {}, c.path || "(whole resource)"), h("span", { class: `op op-${String(c.op).toLowerCase()}` }, c.op), show(c.old), show(c.new)]),
    "No field changes.",
  );
}
