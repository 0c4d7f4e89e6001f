// "Propose as a change request": the edit form writes to a branch (applyManifests(branch:),
// forked from the default branch) and opens a change request from it (createChangeRequest)
// instead of saving to the default branch.
import { mutate } from "../api.js";
import { h, announce, uid, short, diffTable, notice } from "../dom.js";
import { fieldErrors } from "../schemaform.js";

const CREATE = `mutation($input: CreateChangeRequestInput!) {
  createChangeRequest(input: $input) { changeRequest { id number } userErrors { field message code } }
}`;

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "change";
}

function stamp() {
  const d = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}-${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
}

/** The checkbox, branch and title inputs; `read()` → {branch, title} or {error}. */
export function proposeFields(kindName, nameInput, saveButton, saveLabel) {
  const checkId = uid("propose");
  const branchId = uid("branch");
  const titleId = uid("crtitle");
  const checkbox = h("input", { type: "checkbox", id: checkId, "aria-controls": `${checkId}-fields` });
  const branch = h("input", { id: branchId, name: "branch", autocapitalize: "none", spellcheck: "false", "aria-describedby": `${branchId}-hint` });
  const title = h("input", { id: titleId, name: "title" });
  const fields = h(
    "div",
    { id: `${checkId}-fields`, hidden: true },
    h("div", { class: "field", dataset: { path: "branch" } }, h("label", { for: branchId }, "Branch"), h("p", { class: "hint", id: `${branchId}-hint` }, "Created from the default branch if it does not exist."), branch),
    h("div", { class: "field", dataset: { path: "title" } }, h("label", { for: titleId }, "Subject of the change request"), title),
  );
  checkbox.addEventListener("change", () => {
    fields.hidden = !checkbox.checked;
    const name = nameInput.value.trim() || "new";
    if (checkbox.checked && !branch.value) branch.value = `admin/${slug(kindName)}-${slug(name)}-${stamp()}`;
    if (checkbox.checked && !title.value) title.value = `Edit ${kindName} ${name}`;
    saveButton.textContent = checkbox.checked ? "Propose change" : saveLabel;
  });
  const el = h(
    "fieldset",
    { class: "propose" },
    h("legend", {}, "Review first"),
    h("div", { class: "check" }, checkbox, h("label", { for: checkId }, "Propose as a change request instead of saving to the default branch")),
    fields,
  );
  return {
    el,
    get checked() {
      return checkbox.checked;
    },
    read() {
      if (!branch.value.trim()) return { error: { field: "branch", message: "A branch name is required." } };
      if (!title.value.trim()) return { error: { field: "title", message: "A subject is required." } };
      return { branch: branch.value.trim(), title: title.value.trim() };
    },
  };
}

/** After the commit on the branch: open the change request and go to its page. */
export async function propose(ctx, editor, summary, proposal, payload, diff) {
  const created = await mutate(CREATE, { repository: ctx.repo, sourceBranch: proposal.branch, title: proposal.title, description: "" });
  if (created.userErrors.length) {
    const reported = created.userErrors.map((e) => ({ field: e.field === "sourceBranch" ? "branch" : e.field, message: e.message, code: e.code }));
    fieldErrors(editor, reported, summary);
    return;
  }
  const request = created.changeRequest;
  announce(`Change request !${request.number} opened.`);
  ctx.flash(
    notice("ok", h("p", {}, `Committed ${short(payload.commit)} to ${proposal.branch} and opened change request !${request.number}.`)),
    h("section", { class: "card", "aria-label": "Fields proposed" }, diffTable("Fields proposed", diff)),
  );
  ctx.navigate(`${ctx.repoHref(ctx.repo, "change", request.id)}?n=${request.number}`);
}
