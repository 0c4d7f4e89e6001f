// Webhooks with their deliveries, and the push audit log (every ref update git accepted).
import { gql } from "../api.js";
import { h, time, short, table, json } from "../dom.js";

const WEBHOOKS = `query($repository: String!) {
  webhooks(repository: $repository) {
    id url description active createdAt createdBy
    deliveries(first: 20) { totalCount nodes { id publicationSequence state attempts lastStatusCode lastError createdAt completedAt nextAttemptAt payload } }
  }
}`;
const AUDIT = `query($repository: String!) {
  auditLog(repository: $repository, first: 50) { totalCount nodes { at actor action ref old new transport pushId operation idempotencyKey } }
}`;

export async function webhooksView(ctx) {
  const data = await gql(WEBHOOKS, { repository: ctx.repo });
  const hooks = data.webhooks;
  return [
    h("h1", {}, `Webhooks of ${ctx.repo}`),
    hooks.length ? null : h("p", { class: "empty" }, "No webhooks are registered for this repository."),
    hooks.map((hook) =>
      h(
        "section",
        { class: "card", "aria-label": `Webhook ${hook.url}` },
        h("h2", {}, hook.url, " ", h("span", { class: "badge" }, hook.active ? "active" : "paused")),
        h("p", { class: "muted" }, hook.description, hook.description ? " · " : "", "registered by ", hook.createdBy, " ", time(hook.createdAt)),
        table(
          `Deliveries to ${hook.url} (${hook.deliveries.totalCount})`,
          ["Publication", "State", "Attempts", "HTTP", "Error", "Created", "Payload"],
          hook.deliveries.nodes.map((d) => [
            String(d.publicationSequence),
            h("span", { class: `badge delivery-${d.state.toLowerCase()}` }, d.state.toLowerCase()),
            String(d.attempts),
            d.lastStatusCode === null ? "—" : String(d.lastStatusCode),
            d.lastError,
            time(d.createdAt),
            h("details", {}, h("summary", {}, "Show"), h("pre", { tabindex: "0" }, json(d.payload))),
          ]),
          "No deliveries yet.",
        ),
      ),
    ),
  ];
}

export async function auditView(ctx) {
  const data = await gql(AUDIT, { repository: ctx.repo });
  const log = data.auditLog;
  return [
    h("h1", {}, `Push log of ${ctx.repo}`),
    h("p", { class: "muted" }, `${log.totalCount} ref updates in all; the newest 50 below.`),
    table(
      "Ref updates (newest first)",
      ["When", "Who", "Ref", "From", "To", "How", "Push or request"],
      log.nodes.map((e) => [
        time(e.at),
        e.actor,
        h("code", {}, e.ref),
        h("code", {}, short(e.old)),
        h("code", {}, short(e.new)),
        [e.transport, e.operation ? ` (${e.operation})` : ""],
        h("code", {}, e.pushId || e.idempotencyKey),
      ]),
      "No ref updates yet.",
    ),
  ];
}
