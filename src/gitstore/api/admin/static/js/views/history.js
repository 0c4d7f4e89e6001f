// History of one resource (commits that touched its file, with field diffs) and one-click
// revert (revertCommit, after a confirmation; the revert is a new commit).
import { gql, mutate, idempotencyKey } from "../api.js";
import { h, notice, announce, time, short, diffTable, confirmDialog } from "../dom.js";
import { projected } from "../resourcedata.js";

const HISTORY = `query($repository: String!, $kind: String!, $name: String!) {
  resourceHistory(repository: $repository, kind: $kind, name: $name, first: 20) {
    commit committedAt actor message changeType author { name } diff { path op old new }
  }
}`;
const REVERT = `mutation($input: RevertCommitInput!) {
  revertCommit(input: $input) { commit committed revertedCommit userErrors { field message code } }
}`;

export function historySection(ctx, kind, name, resourceVersion) {
  const body = h("div", {}, h("p", {}, "Loading history…"));
  const status = h("div", { "aria-live": "polite" });
  const el = h("section", { class: "card", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"), status, body);

  const revert = async (entry, button) => {
    const confirmed = await confirmDialog({
      title: `Revert commit ${short(entry.commit)}?`,
      body: [
        h("p", {}, `“${entry.message.split("\n")[0]}”`),
        h("p", {}, "Reverting makes a new commit that undoes every change of this commit (in all the files it touched, not only this resource). Nothing is erased from history."),
      ],
      confirmLabel: "Revert",
      danger: true,
    });
    if (!confirmed) return;
    button.disabled = true;
    try {
      const payload = await mutate(REVERT, { repository: ctx.repo, sha: entry.commit, idempotencyKey: idempotencyKey(), waitForIndex: true, indexTimeout: 10 });
      if (payload.userErrors.length) {
        status.replaceChildren(notice("error", payload.userErrors.map((e) => e.message).join(" ")));
        return;
      }
      announce(`Reverted with commit ${short(payload.commit)}.`);
      ctx.flash(notice("ok", `Reverted ${short(entry.commit)} with commit ${short(payload.commit)}.`));
      // show the reverted resource once the worker has projected it (a revert that deletes
      // it never shows up: then the page says so)
      await projected(ctx.repo, kind, name, resourceVersion);
      ctx.reload();
      return;
    } catch (error) {
      status.replaceChildren(notice("error", error.message));
    } finally {
      button.disabled = false;
    }
  };

  const refresh = async () => {
    try {
      const data = await gql(HISTORY, { repository: ctx.repo, kind, name });
      const entries = data.resourceHistory;
      if (!entries.length) {
        body.replaceChildren(h("p", { class: "empty" }, "No commits touch this resource."));
        return;
      }
      body.replaceChildren(
        h(
          "ol",
          { class: "history" },
          entries.map((entry) => {
            const button = h("button", { type: "button", class: "small", "aria-label": `Revert commit ${short(entry.commit)}` }, "Revert");
            button.addEventListener("click", () => revert(entry, button));
            return h(
              "li",
              { class: "entry" },
              h(
                "div",
                { class: "entry-head" },
                h("code", {}, short(entry.commit)),
                h("span", { class: `badge change-${entry.changeType.toLowerCase()}` }, entry.changeType.toLowerCase()),
                h("span", {}, entry.actor || entry.author.name),
                time(entry.committedAt),
                button,
              ),
              h("p", { class: "message" }, entry.message.split("\n")[0]),
              h("details", {}, h("summary", {}, `Field changes (${entry.diff.length})`), diffTable(`Changes in ${short(entry.commit)}`, entry.diff)),
            );
          }),
        ),
      );
    } catch (error) {
      // e.g. resourceHistory does not know custom kinds yet: say so, without an alarm
      body.replaceChildren(notice("info", `History is not available: ${error.message}`));
    }
  };
  refresh();
  return { el, refresh };
}
