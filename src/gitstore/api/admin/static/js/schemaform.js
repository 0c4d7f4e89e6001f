// A form built from a kind's JSON Schema. Objects become fieldsets, arrays lists with add and
// remove buttons, enums selects, strings / numbers / booleans inputs; anything the form cannot
// show faithfully (oneOf/anyOf, several types, maps, unknown keywords) is a JSON text box for
// that part only. Every field carries data-path = the JSON path the API names in userErrors
// (spec.price.amount, spec.variants[1].sku), so errors are shown at the field.
import { h, uid, notice } from "./dom.js";

export class FormError extends Error {
  constructor(path, message) {
    super(message);
    this.path = path;
  }
}

function resolve(schema, root, depth = 0) {
  if (!schema || typeof schema !== "object") return {};
  if (typeof schema.$ref === "string" && depth < 32) {
    const match = schema.$ref.match(/^#\/(\$defs|definitions)\/(.+)$/);
    const target = match ? root?.[match[1]]?.[decodeURIComponent(match[2])] : undefined;
    if (target) {
      const { $ref, ...rest } = schema;
      return { ...resolve(target, root, depth + 1), ...rest };
    }
  }
  return schema;
}

function kindOf(schema) {
  if (schema.oneOf || schema.anyOf || schema.allOf || schema.not || schema.if) return "json";
  if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === "string")) return "enum";
  let type = schema.type;
  if (Array.isArray(type)) type = type.length === 1 ? type[0] : undefined;
  if (type === "object" && !schema.properties) return "json";
  if (["object", "array", "string", "integer", "number", "boolean"].includes(type)) return type;
  if (schema.properties) return "object";
  return "json";
}

const humanise = (key) => String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());

function wrap(path, label, control, schema, extra = {}) {
  const id = control.id || uid("field");
  control.id = id;
  const hintId = `${id}-hint`;
  const hint = schema.description ? h("p", { class: "hint", id: hintId }, schema.description) : null;
  if (hint) control.setAttribute("aria-describedby", hintId);
  return h(
    "div",
    { class: `field ${extra.class || ""}`, dataset: { path } },
    h("label", { for: id }, label, extra.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    hint,
    control,
    extra.after || null,
  );
}

/** Build a field for `schema` at `path`; returns {el, read()} (read() === undefined: unset). */
export function buildField(schema, value, path, label, options) {
  const root = options.root;
  const resolved = resolve(schema, root);
  const required = Boolean(options.required);
  const kind = kindOf(resolved);
  const attrs = { name: path, "aria-required": required ? "true" : false };

  if (kind === "object") return objectField(resolved, value, path, label, options);
  if (kind === "array") return arrayField(resolved, value, path, label, options);
  if (kind === "enum") {
    const select = h(
      "select",
      attrs,
      required && value !== undefined ? null : h("option", { value: "" }, "— not set —"),
      resolved.enum.map((v) => h("option", { value: v, selected: v === value }, v)),
    );
    if (value === undefined && required && resolved.default !== undefined) select.value = resolved.default;
    return { el: wrap(path, label, select, resolved, { required }), read: () => (select.value === "" ? undefined : select.value) };
  }
  if (kind === "string") {
    const long = resolved.maxLength === undefined && !resolved.pattern && !resolved.format;
    const input = long
      ? h("textarea", { ...attrs, rows: /(description|body|content|notes?)$/i.test(path) ? 5 : 2 })
      : h("input", { ...attrs, type: resolved.format === "uri" ? "url" : "text", maxlength: resolved.maxLength });
    input.value = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
    // blank means "not set" (a required one is then reported missing by the API), unless the
    // stored value was the empty string
    const read = () => (input.value === "" && value !== "" ? undefined : input.value);
    return { el: wrap(path, label, input, resolved, { required }), read };
  }
  if (kind === "integer" || kind === "number") {
    const input = h("input", { ...attrs, type: "number", inputmode: kind === "integer" ? "numeric" : "decimal", step: kind === "integer" ? "1" : "any", min: resolved.minimum, max: resolved.maximum });
    input.value = value === undefined || value === null ? "" : String(value);
    const read = () => {
      const raw = input.value.trim();
      if (raw === "") {
        if (input.validity.badInput) throw new FormError(path, "is not a number");
        return undefined;
      }
      return Number(raw);
    };
    return { el: wrap(path, label, input, resolved, { required }), read };
  }
  if (kind === "boolean") {
    const select = h("select", attrs, h("option", { value: "" }, "— not set —"), h("option", { value: "true", selected: value === true }, "Yes"), h("option", { value: "false", selected: value === false }, "No"));
    return { el: wrap(path, label, select, resolved, { required }), read: () => (select.value === "" ? undefined : select.value === "true") };
  }
  return jsonField(resolved, value, path, label, required);
}

function jsonField(schema, value, path, label, required) {
  const area = h("textarea", { name: path, rows: 4, class: "code", spellcheck: "false", "aria-required": required ? "true" : false });
  area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  const read = () => {
    const raw = area.value.trim();
    if (raw === "") return undefined;
    try {
      return JSON.parse(raw);
    } catch (error) {
      throw new FormError(path, `is not valid JSON (${error.message})`);
    }
  };
  const note = h("p", { class: "hint" }, "Edited as JSON.");
  return { el: wrap(path, label, area, schema, { required, class: "json", after: note }), read };
}

function objectField(schema, value, path, label, options) {
  const current = value && typeof value === "object" && !Array.isArray(value) ? value : {};
  const required = new Set(schema.required || []);
  // required fields first, then the rest, each in the schema's order
  const entries = Object.entries(schema.properties || {});
  const ordered = [...entries.filter(([key]) => required.has(key)), ...entries.filter(([key]) => !required.has(key))];
  const children = ordered.map(([key, sub]) => [
    key,
    buildField(sub, current[key], path ? `${path}.${key}` : key, humanise(key), { ...options, required: required.has(key) }),
  ]);
  const known = new Set(Object.keys(schema.properties || {}));
  const extras = Object.fromEntries(Object.entries(current).filter(([key]) => !known.has(key)));
  const legendId = uid("legend");
  const el = h(
    "fieldset",
    { class: "group", dataset: { path }, "aria-labelledby": legendId },
    h("legend", { id: legendId }, label),
    schema.description ? h("p", { class: "hint" }, schema.description) : null,
    children.map(([, child]) => child.el),
  );
  const read = () => {
    const out = { ...extras };
    for (const [key, child] of children) {
      const got = child.read();
      if (got !== undefined) out[key] = got;
    }
    // An optional object that was absent stays absent while none of its fields is filled in
    // (its required strings read as "" then).
    const blank = Object.entries(out).every(([key, v]) => !(key in extras) && (v === "" || v === undefined));
    if (value === undefined && !options.required && blank) return undefined;
    return out;
  };
  return { el, read };
}

function arrayField(schema, value, path, label, options) {
  const itemSchema = resolve(schema.items || {}, options.root);
  const items = [];
  const list = h("ol", { class: "items" });
  const legendId = uid("legend");
  const singular = label.replace(/ies$/, "y").replace(/(ss|[^s])$/, "$1").replace(/s$/, "");
  const itemLabel = humanise(itemSchema.title || singular || "item");
  const nested = ["object", "array", "json"].includes(kindOf(itemSchema));
  const renumber = () => {
    items.forEach((item, index) => {
      if (item.index !== index) {
        // keep data-path (what userErrors name) in step with the item's position
        const from = `${path}[${item.index}]`;
        const to = `${path}[${index}]`;
        for (const el of [item.field.el, ...item.field.el.querySelectorAll("[data-path], [name]")]) {
          if (el.dataset.path?.startsWith(from)) el.dataset.path = to + el.dataset.path.slice(from.length);
          const name = el.getAttribute("name");
          if (name?.startsWith(from)) el.setAttribute("name", to + name.slice(from.length));
        }
        item.index = index;
      }
      item.heading.textContent = `${itemLabel} ${index + 1}`;
      item.remove.setAttribute("aria-label", `Remove ${itemLabel.toLowerCase()} ${index + 1}`);
    });
  };
  const add = (itemValue, focus) => {
    const index = items.length;
    const heading = h("span", { class: "item-title" });
    const field = buildField(itemSchema, itemValue, `${path}[${index}]`, `${itemLabel} ${index + 1}`, { ...options, required: false });
    const remove = h("button", { type: "button", class: "small" }, "Remove");
    // an object item gets a heading; a plain value's own label names it
    const li = nested ? h("li", {}, h("div", { class: "item-head" }, heading, remove), field.el) : h("li", { class: "item-inline" }, field.el, remove);
    const item = { li, heading, remove, field, index };
    remove.addEventListener("click", () => {
      items.splice(items.indexOf(item), 1);
      li.remove();
      renumber();
      addButton.focus();
    });
    items.push(item);
    list.append(li);
    renumber();
    if (focus) li.querySelector("input, select, textarea")?.focus();
  };
  const addButton = h("button", { type: "button", class: "small", onclick: () => add(undefined, true) }, `Add ${itemLabel.toLowerCase()}`);
  (Array.isArray(value) ? value : []).forEach((v) => add(v, false));
  const el = h(
    "fieldset",
    { class: "group array", dataset: { path }, "aria-labelledby": legendId },
    h("legend", { id: legendId }, label),
    schema.description ? h("p", { class: "hint" }, schema.description) : null,
    list,
    addButton,
  );
  const read = () => {
    // Item paths follow their position at read time (userErrors name the submitted index).
    const out = [];
    items.forEach((item) => {
      const got = item.field.read();
      if (got !== undefined) out.push(got);
    });
    if (!out.length && value === undefined) return undefined;
    return out;
  };
  return { el, read };
}

/** Build the spec form for a kind version's schema. */
export function specForm(schema, spec) {
  return buildField(schema, spec, "spec", "Specification", { root: schema, required: true });
}

// ---------------------------------------------------------------------------- errors at fields

export function clearErrors(container) {
  container.querySelectorAll(".field-error").forEach((el) => el.remove());
  container.querySelectorAll("[aria-invalid]").forEach((el) => {
    el.removeAttribute("aria-invalid");
    const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.startsWith("err-"));
    if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
    else el.removeAttribute("aria-describedby");
  });
}

function parentPath(path) {
  const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
  return cut > 0 ? path.slice(0, cut) : "";
}

function fieldFor(container, path) {
  for (let p = path; p; p = parentPath(p)) {
    const found = Array.from(container.querySelectorAll("[data-path]")).find((el) => el.dataset.path === p);
    if (found) return found;
  }
  return null;
}

/**
 * Show userErrors at their fields (`prefix` is stripped from `field`, e.g. "manifests[0].").
 * Errors without a field in the form go to `summary`, which also lists every error with a link
 * to its field. Returns true when there were errors.
 */
export function fieldErrors(container, userErrors, summary, prefix = "") {
  clearErrors(container);
  summary.replaceChildren();
  if (!userErrors || !userErrors.length) return false;
  const entries = [];
  for (const error of userErrors) {
    const path = error.field && error.field.startsWith(prefix) ? error.field.slice(prefix.length) : error.field || "";
    const field = path ? fieldFor(container, path) : null;
    if (field) {
      const control = field.matches("fieldset") ? field.querySelector("input, select, textarea, button") : field.querySelector("input, select, textarea");
      const errId = uid("err");
      const text = error.message.startsWith(`${path}: `) ? error.message.slice(path.length + 2) : error.message;
      const message = h("p", { class: "field-error", id: errId }, field.dataset.path === path ? text : `${path}: ${text}`);
      const legendOrLabel = field.querySelector(":scope > legend, :scope > label");
      if (legendOrLabel) legendOrLabel.after(message);
      else field.prepend(message);
      if (control) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", `${control.getAttribute("aria-describedby") || ""} ${errId}`.trim());
      }
      entries.push(h("li", {}, h("a", { href: `#${control ? control.id : ""}`, onclick: (event) => { event.preventDefault(); control?.focus(); } }, path || "form"), `: ${text}`));
    } else {
      entries.push(h("li", {}, error.field ? h("code", {}, error.field) : null, error.field ? ": " : null, error.message));
    }
  }
  const box = notice("error", h("p", {}, userErrors.length === 1 ? "There is a problem:" : `There are ${userErrors.length} problems:`), h("ul", {}, entries));
  box.setAttribute("tabindex", "-1");
  summary.append(box);
  box.focus();
  return true;
}
