// The change requests of a repository, newest first, filtered by state, paged
// (changeRequests(repository, state, first, after)).
import { gql } from "../api.js";
import { h, table, time, uid } from "../dom.js";
import { PAGE_SIZE, pageState, pager } from "../paging.js";

const LIST = `query($repository: String!, $state: ChangeRequestState, $first: Int, $after: String) {
  changeRequests(repository: $repository, state: $state, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id number title state author sourceBranch targetBranch createdAt updatedAt }
  }
}`;

const STATES = [
  ["OPEN", "Open"],
  ["MERGED", "Merged"],
  ["CLOSED", "Closed"],
  ["", "All"],
];

export function changeHref(ctx, request) {
  return `${ctx.repoHref(ctx.repo, "change", request.id)}?n=${request.number}`;
}

export function stateBadge(state) {
  return h("span", { class: `badge cr-${state.toLowerCase()}` }, state.toLowerCase());
}

export async function changesView(ctx) {
  const state = ctx.params.has("state") ? ctx.params.get("state") : "OPEN";
  const { trail, after } = pageState(ctx.params);
  const data = await gql(LIST, { repository: ctx.repo, state: state || null, first: PAGE_SIZE, after });
  const connection = data.changeRequests;
  const stateId = uid("state");
  const select = h(
    "select",
    { id: stateId },
    STATES.map(([value, label]) => h("option", { value, selected: value === state }, label)),
  );
  select.addEventListener("change", () => ctx.navigate(`${ctx.repoHref(ctx.repo, "changes")}?state=${encodeURIComponent(select.value)}`));
  return [
    h("h1", {}, "Change requests"),
    h(
      "p",
      { class: "muted" },
      "A change request proposes merging a branch into the default branch after review. Open one from a resource's edit form (“Propose as a change request”) or with git (",
      h("code", {}, "git push -o change-request"),
      ").",
    ),
    h("div", { class: "toolbar" }, h("div", { class: "field inline" }, h("label", { for: stateId }, "State"), select)),
    table(
      "Change requests",
      ["Number", "Title", "State", "Branches", "Author", "Updated"],
      connection.nodes.map((request) => [
        `!${request.number}`,
        h("a", { href: changeHref(ctx, request) }, request.title),
        stateBadge(request.state),
        h("span", {}, h("code", {}, request.sourceBranch), " → ", h("code", {}, request.targetBranch)),
        request.author,
        time(request.updatedAt || request.createdAt),
      ]),
      state ? `No ${state.toLowerCase()} change requests.` : "No change requests yet.",
    ),
    pager(ctx.repoHref(ctx.repo, "changes"), { state }, trail, connection, "Change requests"),
  ];
}
