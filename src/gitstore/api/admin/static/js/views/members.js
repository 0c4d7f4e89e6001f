// Members of a namespace: list, add (with a role), remove (confirmed). Owners and admins may.
import { mutate } from "../api.js";
import { h, notice, announce, uid, confirmDialog } from "../dom.js";
import { fieldErrors } from "../schemaform.js";

const ADD = `mutation($input: AddNamespaceMemberInput!) {
  addNamespaceMember(input: $input) { member { username role } userErrors { field message code } }
}`;
const REMOVE = `mutation($input: RemoveNamespaceMemberInput!) {
  removeNamespaceMember(input: $input) { userErrors { field message code } }
}`;
const ROLES = ["READER", "WRITER", "MAINTAINER", "OWNER"];

export function membersSection(ctx, ns) {
  const status = h("div", { "aria-live": "polite" });
  const list = h(
    "ul",
    { class: "plain members" },
    ns.members.map((m) => {
      const remove = h("button", { type: "button", class: "small", "aria-label": `Remove ${m.username} from ${ns.identifier}` }, "Remove");
      remove.addEventListener("click", async () => {
        const yes = await confirmDialog({
          title: `Remove ${m.username}?`,
          body: h("p", {}, `${m.username} (${m.role.toLowerCase()}) will lose access to the repositories of ${ns.identifier}.`),
          confirmLabel: "Remove member",
          danger: true,
        });
        if (!yes) return;
        try {
          const payload = await mutate(REMOVE, { namespace: ns.identifier, username: m.username });
          if (payload.userErrors.length) {
            status.replaceChildren(notice("error", payload.userErrors.map((e) => e.message).join(" ")));
            return;
          }
          announce(`${m.username} removed.`);
          ctx.navigate("#/");
        } catch (error) {
          status.replaceChildren(notice("error", error.message));
        }
      });
      return h("li", {}, h("span", {}, m.username, " — ", m.role.toLowerCase()), " ", remove);
    }),
  );
  const userId = uid("member");
  const roleId = uid("role");
  const username = h("input", { id: userId, name: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const role = h("select", { id: roleId, name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === "WRITER" }, r.toLowerCase())));
  const errors = h("div");
  const form = h(
    "form",
    { class: "toolbar", novalidate: true, "aria-label": `Add a member to ${ns.identifier}` },
    h("div", { class: "field inline grow", dataset: { path: "username" } }, h("label", { for: userId }, "User name"), username),
    h("div", { class: "field inline", dataset: { path: "role" } }, h("label", { for: roleId }, "Role"), role),
    h("button", { type: "submit" }, "Add member"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const payload = await mutate(ADD, { namespace: ns.identifier, username: username.value.trim(), role: role.value });
      if (fieldErrors(form, payload.userErrors, errors)) return;
      announce(`${payload.member.username} added as ${payload.member.role.toLowerCase()}.`);
      ctx.navigate("#/");
    } catch (error) {
      errors.replaceChildren(notice("error", error.message));
    }
  });
  return h("details", {}, h("summary", {}, `Members (${ns.members.length})`), list, status, errors, form);
}
