// Namespaces (with members) and their repositories; create a namespace or a repository.
import { gql, mutate } from "../api.js";
import { h, notice, announce, uid, table } from "../dom.js";
import { fieldErrors } from "../schemaform.js";
import { membersSection } from "./members.js";

const LIST = `{
  namespaces(first: 20) {
    nodes {
      identifier displayName tier
      members { username role }
      repositories(first: 20) { nodes { name fullName description publishMode visibility } }
    }
  }
}`;
const CREATE_REPOSITORY = `mutation($input: CreateRepositoryInput!) {
  createRepository(input: $input) { repository { fullName } userErrors { field message code } }
}`;
const CREATE_NAMESPACE = `mutation($input: CreateNamespaceInput!) {
  createNamespace(input: $input) { namespace { identifier } userErrors { field message code } }
}`;

const MODES = {
  ON_COMMIT: "On commit: the storefront shows the default branch as soon as it is checked",
  ON_RELEASE_TAG: "On release tag: the storefront shows a published release",
};

export async function homeView(ctx) {
  const data = await gql(LIST);
  const namespaces = data.namespaces.nodes;
  const sections = namespaces.map((ns) =>
    h(
      "section",
      { class: "card", "aria-labelledby": `ns-${ns.identifier}` },
      h("h2", { id: `ns-${ns.identifier}` }, ns.displayName || ns.identifier, " ", h("span", { class: "badge" }, ns.tier.toLowerCase())),
      table(
        `Repositories of ${ns.identifier}`,
        ["Repository", "Publish mode", "Visibility", "Description"],
        ns.repositories.nodes.map((r) => [
          h("a", { href: ctx.repoHref(r.fullName) }, r.fullName),
          r.publishMode === "ON_RELEASE_TAG" ? "On release tag" : "On commit",
          r.visibility.toLowerCase(),
          r.description,
        ]),
        "No repositories yet.",
      ),
      membersSection(ctx, ns),
    ),
  );
  return [
    h("h1", {}, "Namespaces and repositories"),
    namespaces.length ? sections : h("p", { class: "empty" }, "You are not in any namespace yet. Create one below."),
    createRepositoryForm(ctx, namespaces),
    createNamespaceForm(ctx),
  ];
}

function field(label, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field", dataset: { path: control.name } }, h("label", { for: id }, label), hint ? h("p", { class: "hint", id: hintId }, hint) : null, control);
}

function createRepositoryForm(ctx, namespaces) {
  const status = h("div");
  const namespace = h("select", { name: "namespace", required: true }, namespaces.map((ns) => h("option", { value: ns.identifier }, ns.identifier)));
  const name = h("input", { name: "name", required: true, autocapitalize: "none", spellcheck: "false" });
  const description = h("input", { name: "description" });
  const visibility = h("select", { name: "visibility" }, h("option", { value: "PRIVATE" }, "Private"), h("option", { value: "PUBLIC" }, "Public (anyone may read the live catalogue)"));
  const modeName = uid("mode");
  const modes = h(
    "fieldset",
    { class: "field", dataset: { path: "publishMode" } },
    h("legend", {}, "Publish mode"),
    Object.entries(MODES).map(([value, label], index) => {
      const id = uid("mode");
      return h("div", { class: "choice" }, h("input", { type: "radio", id, name: modeName, value, checked: index === 0 }), h("label", { for: id }, label));
    }),
  );
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-repo", novalidate: true },
    h("h2", { id: "create-repo" }, "Create a repository"),
    field("Namespace", namespace),
    field("Name", name, "Lowercase letters, digits and hyphens, e.g. catalog."),
    field("Description", description),
    modes,
    field("Visibility", visibility),
    status,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", disabled: !namespaces.length }, "Create repository")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    const input = {
      namespace: namespace.value,
      name: name.value.trim(),
      description: description.value,
      visibility: visibility.value,
      publishMode: form.querySelector(`input[name="${modeName}"]:checked`).value,
    };
    try {
      const payload = await mutate(CREATE_REPOSITORY, input);
      if (fieldErrors(form, payload.userErrors, status)) return;
      announce(`Repository ${payload.repository.fullName} created.`);
      ctx.navigate(ctx.repoHref(payload.repository.fullName));
    } catch (error) {
      status.append(notice("error", error.message));
    }
  });
  return form;
}

function createNamespaceForm(ctx) {
  const status = h("div");
  const identifier = h("input", { name: "identifier", required: true, autocapitalize: "none", spellcheck: "false" });
  const displayName = h("input", { name: "displayName" });
  const tier = h("select", { name: "tier" }, h("option", { value: "USER" }, "Personal (user)"), h("option", { value: "ORGANISATION" }, "Organisation"));
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-ns", novalidate: true },
    h("h2", { id: "create-ns" }, "Create a namespace"),
    field("Identifier", identifier),
    field("Display name", displayName),
    field("Kind of namespace", tier),
    status,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create namespace")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      const payload = await mutate(CREATE_NAMESPACE, { identifier: identifier.value.trim(), displayName: displayName.value || null, tier: tier.value });
      if (fieldErrors(form, payload.userErrors, status)) return;
      announce(`Namespace ${payload.namespace.identifier} created.`);
      ctx.navigate("#/");
    } catch (error) {
      status.append(notice("error", error.message));
    }
  });
  return form;
}
