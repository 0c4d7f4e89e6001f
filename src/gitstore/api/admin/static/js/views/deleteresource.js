// Deleting a resource (after a confirmation): the store endpoint's typed delete<Kind>
// (every kind of the repository, custom kinds included), one commit on the default branch.
import { mutate, idempotencyKey, storeEndpoint } from "../api.js";
import { h, notice, announce, short, confirmDialog } from "../dom.js";

export function deleteSection(ctx, kindName, name, readAt) {
  const status = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "danger" }, `Delete ${kindName} ${name}…`);
  let key = null;
  button.addEventListener("click", async () => {
    const confirmed = await confirmDialog({
      title: `Delete ${kindName} ${name}?`,
      body: [
        h("p", {}, `This removes every file of ${kindName} ${name} from the default branch in one commit.`),
        h("p", {}, "It stays in history: reverting that commit brings it back."),
      ],
      confirmLabel: "Delete",
      danger: true,
    });
    if (!confirmed) return;
    button.disabled = true;
    status.replaceChildren();
    key = key || idempotencyKey();
    const query = `mutation($input: Delete${kindName}Input!) {
      delete${kindName}(input: $input) { commit committed userErrors { field message code } }
    }`;
    try {
      const input = { name, idempotencyKey: key, waitForIndex: true, indexTimeout: 10 };
      if (readAt()) input.expectedVersion = readAt();
      const payload = await mutate(query, input, storeEndpoint(ctx.repo));
      if (payload.userErrors.length) {
        status.replaceChildren(notice("error", payload.userErrors.map((e) => e.message).join(" ")));
        return;
      }
      key = null;
      announce(`Deleted ${kindName} ${name}.`);
      ctx.flash(notice("ok", `Deleted ${kindName} ${name} with commit ${short(payload.commit)}.`));
      ctx.navigate(`${ctx.repoHref(ctx.repo)}?kind=${encodeURIComponent(kindName)}`);
    } catch (error) {
      status.replaceChildren(notice("error", error.message));
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "section",
    { class: "card danger-zone", "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, "Delete"),
    status,
    h("div", { class: "actions" }, button),
  );
}
