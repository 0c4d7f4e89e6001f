// One resource: view, edit with a form from its kind's JSON Schema, dry-run (field diff), save
// (applyManifests: one commit with the signed-in person as actor); its history (history.js).
import { gql, mutate, idempotencyKey } from "../api.js";
import { h, notice, announce, uid, json, diffTable, short } from "../dom.js";
import { proposeFields, propose } from "./propose.js";
import { deleteSection } from "./deleteresource.js";
import { repositoryKinds, hubVersion, apiVersionOf } from "../kinds.js";
import { specForm, fieldErrors, clearErrors, FormError } from "../schemaform.js";
import { historySection } from "./history.js";
import { DRAFT_VERSION, GET, projected } from "../resourcedata.js";


const APPLY = `mutation($input: ApplyManifestsInput!) {
  applyManifests(input: $input) {
    commit committed dryRun
    changes { path changeType kind name diff { path op old new } }
    indexing { state }
    userErrors { field message code }
  }
}`;


function labelsText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join("\n");
}

function parseLabels(text) {
  const out = {};
  text.split("\n").map((line) => line.trim()).filter(Boolean).forEach((line, index) => {
    const at = line.indexOf("=");
    if (at <= 0) throw new FormError("metadata.labels", `line ${index + 1} is not key=value`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return out;
}

export async function resourceView(ctx, kindName, name) {
  const [kinds, data] = await Promise.all([
    repositoryKinds(ctx.repo),
    name ? gql(GET, { repository: ctx.repo, kind: kindName, name }) : gql(DRAFT_VERSION, { repository: ctx.repo }),
  ]);
  const kind = kinds.get(kindName);
  const resource = name ? data.resource : null;
  // The commit the form was read at (the draft the resource store follows): a save sends it as
  // expectedVersion, so a change someone made since is a CONFLICT, not silently overwritten.
  let readAt = data.catalog.version;
  if (name && !resource) {
    return [h("h1", {}, `${kindName} ${name}`), notice("error", `There is no ${kindName} named ${name} in ${ctx.repo} (or it is not projected yet).`)];
  }
  const isNew = !resource;
  const version = kind ? hubVersion(kind) : null;
  const schema = version?.schema || null;

  // ------------------------------------------------------------------ the edit form
  const summary = h("div");
  const result = h("div", { "aria-live": "polite" });
  const nameId = uid("name");
  const nameInput = h("input", { id: nameId, name: "metadata.name", required: true, autocapitalize: "none", spellcheck: "false", value: resource?.name || "", readonly: !isNew });
  const labelsId = uid("labels");
  const labelsInput = h("textarea", { id: labelsId, name: "metadata.labels", rows: 2, class: "code", spellcheck: "false", "aria-describedby": `${labelsId}-hint` });
  labelsInput.value = labelsText(resource?.labels);
  const messageId = uid("msg");
  const messageInput = h("input", { id: messageId, name: "message", placeholder: `Edit ${kindName} ${name || ""} in the admin interface` });

  let spec = resource?.spec || {};
  let form = schema ? specForm(schema, resource ? spec : undefined) : null;
  const specHolder = h("div");
  const jsonId = uid("json");
  const jsonArea = h("textarea", { id: jsonId, name: "spec", rows: 14, class: "code", spellcheck: "false" });
  const jsonField = h("div", { class: "field json", dataset: { path: "spec" } }, h("label", { for: jsonId }, "Specification (JSON)"), jsonArea);
  let asJson = !form;
  const toggle = h("button", { type: "button", class: "small", "aria-pressed": String(asJson), disabled: !schema }, "Edit the specification as JSON");
  const showSpec = () => {
    toggle.setAttribute("aria-pressed", String(asJson));
    if (asJson) {
      jsonArea.value = json(spec);
      specHolder.replaceChildren(jsonField);
    } else {
      form = specForm(schema, spec);
      specHolder.replaceChildren(form.el);
    }
  };
  const readSpec = () => {
    if (!asJson) return form.read() || {};
    try {
      return JSON.parse(jsonArea.value || "{}");
    } catch (error) {
      throw new FormError("spec", `is not valid JSON (${error.message})`);
    }
  };
  toggle.addEventListener("click", () => {
    try {
      spec = readSpec();
    } catch (error) {
      fieldErrors(editor, [{ field: error.path, message: error.message }], summary);
      return;
    }
    asJson = !asJson;
    showSpec();
    specHolder.querySelector("input, select, textarea")?.focus();
  });
  showSpec();

  const manifest = () => {
    const metadata = { name: nameInput.value.trim() };
    const labels = parseLabels(labelsInput.value);
    if (Object.keys(labels).length) metadata.labels = labels;
    if (resource && Object.keys(resource.annotations || {}).length) metadata.annotations = resource.annotations;
    return { apiVersion: kind ? apiVersionOf(kind) : resource.apiVersion, kind: kindName, metadata, spec: readSpec() };
  };

  let pendingKey = null;
  const submit = async (dryRun) => {
    result.replaceChildren();
    clearErrors(editor);
    document.querySelectorAll("#main .flash").forEach((node) => node.remove());
    let input;
    try {
      spec = readSpec();
      input = { repository: ctx.repo, manifests: [{ manifest: manifest() }], dryRun };
    } catch (error) {
      if (error instanceof FormError) fieldErrors(editor, [{ field: error.path, message: error.message }], summary);
      else summary.replaceChildren(notice("error", error.message));
      return;
    }
    const proposal = !dryRun && proposing.checked ? proposing.read() : null;
    if (proposal?.error) {
      fieldErrors(editor, [proposal.error], summary);
      return;
    }
    if (proposal) {
      // a commit on the proposal's branch (forked from the default branch), not projected:
      // no waiting for the index
      pendingKey = pendingKey || idempotencyKey();
      Object.assign(input, { idempotencyKey: pendingKey, branch: proposal.branch, message: messageInput.value || proposal.title });
    } else if (!dryRun) {
      pendingKey = pendingKey || idempotencyKey();
      Object.assign(input, { idempotencyKey: pendingKey, waitForIndex: true, indexTimeout: 10, message: messageInput.value || null });
    }
    if (readAt) input.expectedVersion = readAt;
    buttons.forEach((b) => (b.disabled = true));
    try {
      const payload = await mutate(APPLY, input);
      if (fieldErrors(editor, payload.userErrors, summary, "manifests[0].")) {
        if (payload.userErrors.some((e) => e.code === "CONFLICT")) {
          summary.firstChild.append(
            h("p", {}, "Someone changed this resource after you opened it. ", h("button", { type: "button", class: "small", onclick: () => ctx.reload() }, "Reload it"), " to see their change (your edits here are lost)."),
          );
        }
        announce(`${payload.userErrors.length} problem(s) to fix.`);
        return;
      }
      pendingKey = null;
      const diff = (payload.changes || []).flatMap((c) => c.diff);
      if (dryRun) {
        result.replaceChildren(
          h("h2", {}, "Preview of the change"),
          (payload.changes || []).length ? diffTable("Fields this save would change", diff) : h("p", {}, "Nothing would change: the file in git already says this."),
        );
        announce(`Preview: ${diff.length} field change(s).`);
      } else if (proposal && payload.committed) {
        await propose(ctx, editor, summary, proposal, payload, diff);
      } else if (payload.committed) {
        readAt = payload.commit;
        announce(`Saved as commit ${short(payload.commit)}.`);
        ctx.flash(
          notice("ok", h("p", {}, `Saved as commit ${short(payload.commit)}.`)),
          h("section", { class: "card", "aria-label": "Fields changed" }, diffTable("Fields changed", diff)),
        );
        // show the saved resource once the worker has projected it
        const saved = nameInput.value.trim();
        await projected(ctx.repo, kindName, saved, resource?.resourceVersion ?? null);
        ctx.navigate(ctx.repoHref(ctx.repo, "resource", kindName, saved));
      } else {
        result.replaceChildren(notice("info", "Nothing to save: the file in git already says this."));
      }
    } catch (error) {
      summary.replaceChildren(notice("error", error.message));
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  const preview = h("button", { type: "button", onclick: () => submit(true) }, "Preview changes");
  const save = h("button", { type: "submit", class: "primary" }, isNew ? `Create ${kindName}` : "Save");
  const buttons = [preview, save];
  const proposing = proposeFields(kindName, nameInput, save, isNew ? `Create ${kindName}` : "Save");
  const editor = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "edit-title" },
    h("h2", { id: "edit-title" }, isNew ? "Details" : "Edit"),
    summary,
    kind ? null : notice("info", `No kind definition for ${kindName} was found: the specification is edited as JSON.`),
    h("div", { class: "field", dataset: { path: "metadata.name" } }, h("label", { for: nameId }, "Name"), nameInput),
    h(
      "div",
      { class: "field", dataset: { path: "metadata.labels" } },
      h("label", { for: labelsId }, "Labels"),
      h("p", { class: "hint", id: `${labelsId}-hint` }, "One key=value per line."),
      labelsInput,
    ),
    h("div", { class: "toolbar" }, toggle),
    specHolder,
    h("div", { class: "field", dataset: { path: "message" } }, h("label", { for: messageId }, "Commit message (optional)"), messageInput),
    proposing.el,
    h("div", { class: "actions" }, preview, save),
  );
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(false);
  });

  const history = isNew ? null : historySection(ctx, kindName, name, resource.resourceVersion);
  return [
    h("h1", {}, isNew ? `New ${kindName}` : `${kindName} ${name}`),
    resource
      ? h(
          "dl",
          { class: "facts" },
          h("dt", {}, "API version"), h("dd", {}, resource.apiVersion),
          h("dt", {}, "Generation"), h("dd", {}, String(resource.generation)),
          h("dt", {}, "Resource version"), h("dd", {}, resource.resourceVersion),
        )
      : null,
    editor,
    result,
    resource && Object.keys(resource.status || {}).length
      ? h("section", { class: "card", "aria-labelledby": "status-title" }, h("h2", { id: "status-title" }, "Status (reported by controllers)"), h("pre", { tabindex: "0" }, json(resource.status)))
      : null,
    history ? history.el : null,
    resource ? deleteSection(ctx, kindName, name, () => readAt) : null,
  ];
}
