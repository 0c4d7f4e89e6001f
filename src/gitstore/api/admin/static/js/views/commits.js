// Recent commits of the repository (from the ref-update audit log, API writes and pushes
// alike) with their commit status: valid, invalid (with the validation errors) or pending.
import { gql } from "../api.js";
import { h, notice, time, short, table } from "../dom.js";

const LOG = `query($repository: String!) {
  catalog(repository: $repository, channel: DRAFT) { version updatedAt }
  auditLog(repository: $repository, first: 20) { nodes { at actor ref new operation transport } }
}`;

function statusQuery(count) {
  const fields = Array.from({ length: count }, (_, i) => `s${i}: commitStatus(repository: $repository, sha: $sha${i}) { state commit checkedAt errors { path field rule message line column } }`);
  const vars = Array.from({ length: count }, (_, i) => `$sha${i}: String!`);
  return `query($repository: String!, ${vars.join(", ")}) { ${fields.join("\n")} }`;
}

export async function commitsView(ctx) {
  const log = await gql(LOG, { repository: ctx.repo });
  const seen = new Set();
  const commits = [];
  for (const entry of log.auditLog.nodes) {
    if (!entry.ref.startsWith("refs/heads/") || !/^[0-9a-f]{40}$/.test(entry.new) || /^0+$/.test(entry.new) || seen.has(entry.new)) continue;
    seen.add(entry.new);
    commits.push(entry);
  }
  let statuses = {};
  if (commits.length) {
    const vars = { repository: ctx.repo };
    commits.forEach((c, i) => (vars[`sha${i}`] = c.new));
    statuses = await gql(statusQuery(commits.length), vars);
  }
  const rows = commits.map((c, i) => {
    const status = statuses[`s${i}`];
    const errors = status?.errors || [];
    return [
      h("code", {}, short(c.new)),
      h("span", { class: `badge state-${(status?.state || "pending").toLowerCase()}` }, (status?.state || "PENDING").toLowerCase()),
      c.ref.replace("refs/heads/", ""),
      c.actor,
      c.operation || c.transport,
      time(c.at),
      errors.length
        ? h("ul", { class: "plain errors" }, errors.map((e) => h("li", {}, e.path ? h("code", {}, e.path) : null, e.field ? ` ${e.field}` : "", e.line ? ` (line ${e.line})` : "", `: ${e.message}`)))
        : "",
    ];
  });
  const draft = log.catalog;
  return [
    h("h1", {}, `Commits of ${ctx.repo}`),
    h("p", { class: "muted" }, draft.version ? ["Draft index at ", h("code", {}, short(draft.version)), " since ", time(draft.updatedAt), "."] : "Nothing indexed yet."),
    commits.length ? null : notice("info", "No commits recorded yet."),
    table("Recent commits and their status", ["Commit", "Status", "Branch", "By", "How", "When", "Validation errors"], rows, "No commits yet."),
  ];
}
