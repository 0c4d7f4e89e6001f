// One change request: its semantic diff per resource, validation, mergeability, approvals,
// reviews and comments; comment, approve / request changes, merge (strategy, confirmation,
// expectedHeadSha = the head shown on this page), close.
import { gql, mutate } from "../api.js";
import { h, notice, announce, uid, time, short, table, diffTable, confirmDialog } from "../dom.js";
import { stateBadge } from "./changes.js";

const GET = `query($id: ID!) {
  changeRequest(id: $id) {
    id number state title description author sourceBranch targetBranch
    headSha baseSha mergeSha mergedBy createdAt updatedAt closedAt
    diff { kind name op path oldPath fields { path op old new } }
    validation { headSha valid validatedFiles violations { path field rule message } }
    mergeability { mergeable fastForwardPossible reason conflicts { kind name path field reason message } }
    approvals { required missing }
    reviews { author verdict body headSha createdAt }
    comments { author body createdAt }
  }
}`;
const ERRORS = "userErrors { field message code }";
const REVIEW = `mutation($input: ReviewChangeRequestInput!) { reviewChangeRequest(input: $input) { review { verdict } ${ERRORS} } }`;
const COMMENT = `mutation($input: CommentOnChangeRequestInput!) { commentOnChangeRequest(input: $input) { comment { body } ${ERRORS} } }`;
const MERGE = `mutation($input: MergeChangeRequestInput!) { mergeChangeRequest(input: $input) { mergeSha changeRequest { state } ${ERRORS} } }`;
const CLOSE = `mutation($input: CloseChangeRequestInput!) { closeChangeRequest(input: $input) { changeRequest { state } ${ERRORS} } }`;

const STRATEGIES = [
  ["MERGE", "Merge commit", "a merge commit with both heads as parents"],
  ["SQUASH", "Squash", "one new commit on the target with the request's title as message"],
  ["FAST_FORWARD", "Fast-forward", "move the target to the source head (only when the target has not moved)"],
];
const VERDICTS = { APPROVE: "approved", REQUEST_CHANGES: "requested changes", COMMENT: "commented" };

function problems(payload) {
  return payload.userErrors.map((e) => `${e.field ? e.field + ": " : ""}${e.message}${e.code ? ` (${e.code})` : ""}`).join(" ");
}

function diffSection(ctx, request) {
  const items = request.diff.map((change) => {
    const title = change.kind ? `${change.kind} ${change.name}` : change.path;
    const heading = h(
      "h3",
      {},
      change.kind && change.op !== "REMOVED" ? h("a", { href: ctx.repoHref(ctx.repo, "resource", change.kind, change.name) }, title) : title,
      " ",
      h("span", { class: `badge change-${change.op === "REMOVED" ? "deleted" : change.op === "ADDED" ? "added" : "modified"}` }, change.op.toLowerCase()),
    );
    return h(
      "li",
      { class: "resource-diff" },
      heading,
      h("p", { class: "muted" }, h("code", {}, change.oldPath && change.oldPath !== change.path ? `${change.oldPath} → ${change.path}` : change.path)),
      change.kind ? diffTable(`Field changes of ${title}`, change.fields) : h("p", { class: "muted" }, "Not a manifest: compared as a file."),
    );
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "cr-diff" },
    h("h2", { id: "cr-diff" }, `Changes (${request.diff.length} ${request.diff.length === 1 ? "resource" : "resources"})`),
    items.length ? h("ol", { class: "plain diff-list" }, items) : h("p", { class: "empty" }, "The branch brings no change."),
  );
}

function checksSection(request) {
  const v = request.validation;
  const m = request.mergeability;
  const a = request.approvals;
  const rows = [];
  if (v) {
    rows.push(
      h("li", {}, h("span", { class: `badge state-${v.valid ? "valid" : "invalid"}` }, v.valid ? "valid" : "invalid"), ` Validation of head ${short(v.headSha)}: ${v.validatedFiles} file(s) checked.`),
    );
  }
  if (m) {
    rows.push(
      h("li", {}, h("span", { class: `badge state-${m.mergeable ? "valid" : "invalid"}` }, m.mergeable ? "mergeable" : "not mergeable"), " ", m.mergeable ? (m.fastForwardPossible ? "Can be merged (a fast-forward is possible)." : "Can be merged (no fast-forward: the target has moved).") : m.reason),
    );
  }
  if (a && !a.required) {
    rows.push(h("li", {}, h("span", { class: "badge" }, "no approval rule"), " Any writer of the repository may merge."));
  } else if (a) {
    rows.push(
      h("li", {}, h("span", { class: `badge state-${a.missing ? "pending" : "valid"}` }, a.missing ? `${a.missing} approval(s) missing` : "approvals ok"), ` ${a.required} maintainer approval(s) required to merge into the default branch.`),
    );
  }
  return h(
    "section",
    { class: "card", "aria-labelledby": "cr-checks" },
    h("h2", { id: "cr-checks" }, "Checks"),
    rows.length ? h("ul", { class: "plain checks" }, rows) : h("p", { class: "muted" }, "No checks for a request that is not open."),
    v && v.violations.length
      ? table("Validation errors", ["File", "Field", "Rule", "Message"], v.violations.map((x) => [h("code", {}, x.path), x.field ? h("code", {}, x.field) : "", x.rule, x.message]))
      : null,
    m && m.conflicts.length
      ? table("Conflicts", ["Resource", "Field", "Reason", "Message"], m.conflicts.map((c) => [c.kind ? `${c.kind} ${c.name}` : h("code", {}, c.path), c.field ? h("code", {}, c.field) : "(whole)", c.reason, c.message]))
      : null,
  );
}

function conversation(request) {
  const notes = [
    ...request.reviews.map((r) => ({ ...r, review: true })),
    ...request.comments.map((c) => ({ ...c, review: false })),
  ].sort((x, y) => String(x.createdAt).localeCompare(String(y.createdAt)));
  return h(
    "ol",
    { class: "history notes" },
    notes.map((note) =>
      h(
        "li",
        { class: "entry" },
        h(
          "div",
          { class: "entry-head" },
          h("strong", {}, note.author),
          note.review ? h("span", { class: `badge verdict-${note.verdict.toLowerCase()}` }, VERDICTS[note.verdict] || note.verdict) : h("span", { class: "muted" }, "commented"),
          time(note.createdAt),
          note.review && note.headSha ? h("span", { class: "muted" }, `at ${short(note.headSha)}`) : null,
        ),
        note.body ? h("p", { class: "message" }, note.body) : null,
      ),
    ),
  );
}

export async function changeRequestView(ctx, id) {
  const data = await gql(GET, { id });
  const request = data.changeRequest;
  if (!request) return [h("h1", {}, "Change request"), notice("error", "There is no such change request (or you cannot read it).")];
  const open = request.state === "OPEN";
  const status = h("div", { "aria-live": "polite" });

  const act = async (button, run, done) => {
    status.replaceChildren();
    button.disabled = true;
    try {
      const payload = await run();
      if (payload.userErrors.length) {
        status.replaceChildren(notice("error", problems(payload)));
        status.querySelector(".notice").focus?.();
        announce(problems(payload));
        return;
      }
      ctx.flash(notice("ok", done(payload)));
      ctx.reload();
    } catch (error) {
      status.replaceChildren(notice("error", error.message));
    } finally {
      button.disabled = false;
    }
  };

  // ------------------------------------------------------------------ review and comment
  const bodyId = uid("body");
  const bodyInput = h("textarea", { id: bodyId, rows: 3 });
  const review = (verdict, button) =>
    act(button, () => mutate(REVIEW, { id: request.id, verdict, body: bodyInput.value }), () => `You ${VERDICTS[verdict]}.`);
  const commentButton = h("button", { type: "button" }, "Comment");
  commentButton.addEventListener("click", () => {
    if (!bodyInput.value.trim()) {
      status.replaceChildren(notice("error", "Write a comment first."));
      bodyInput.focus();
      return;
    }
    act(commentButton, () => mutate(COMMENT, { id: request.id, body: bodyInput.value }), () => "Comment added.");
  });
  const approveButton = h("button", { type: "button", class: "primary" }, "Approve");
  approveButton.addEventListener("click", () => review("APPROVE", approveButton));
  const changesButton = h("button", { type: "button" }, "Request changes");
  changesButton.addEventListener("click", () => review("REQUEST_CHANGES", changesButton));
  const reviewForm = h(
    "section",
    { class: "card", "aria-labelledby": "cr-review" },
    h("h2", { id: "cr-review" }, "Review"),
    h("div", { class: "field" }, h("label", { for: bodyId }, "Comment"), bodyInput),
    h("div", { class: "actions" }, commentButton, changesButton, approveButton),
  );

  // ------------------------------------------------------------------ merge and close
  const strategyId = uid("strategy");
  const ff = request.mergeability?.fastForwardPossible;
  const strategy = h(
    "select",
    { id: strategyId, "aria-describedby": `${strategyId}-hint` },
    STRATEGIES.map(([value, label]) => h("option", { value, disabled: value === "FAST_FORWARD" && !ff }, label)),
  );
  const hint = h("p", { class: "hint", id: `${strategyId}-hint` });
  const showHint = () => (hint.textContent = STRATEGIES.find(([v]) => v === strategy.value)[2] + ".");
  strategy.addEventListener("change", showHint);
  showHint();
  const mergeButton = h("button", { type: "button", class: "primary" }, "Merge…");
  mergeButton.addEventListener("click", async () => {
    const chosen = STRATEGIES.find(([v]) => v === strategy.value);
    const confirmed = await confirmDialog({
      title: `Merge !${request.number} into ${request.targetBranch}?`,
      body: [
        h("p", {}, `${chosen[1]}: ${chosen[2]}.`),
        h("p", {}, `Merges exactly the head you reviewed on this page, ${short(request.headSha)}: if the branch has moved since, the merge is refused.`),
        h("p", {}, `The ${request.targetBranch} branch then changes (and publishes as the repository's publish mode says).`),
      ],
      confirmLabel: "Merge",
    });
    if (!confirmed) return;
    act(
      mergeButton,
      () => mutate(MERGE, { id: request.id, expectedHeadSha: request.headSha, strategy: strategy.value }),
      (payload) => `Merged into ${request.targetBranch} as commit ${short(payload.mergeSha)}.`,
    );
  });
  const closeButton = h("button", { type: "button", class: "danger" }, "Close…");
  closeButton.addEventListener("click", async () => {
    const confirmed = await confirmDialog({
      title: `Close !${request.number} without merging?`,
      body: h("p", {}, `The branch ${request.sourceBranch} is kept; nothing is merged.`),
      confirmLabel: "Close request",
      danger: true,
    });
    if (!confirmed) return;
    act(closeButton, () => mutate(CLOSE, { id: request.id }), () => `Change request !${request.number} closed.`);
  });
  const mergeForm = h(
    "section",
    { class: "card", "aria-labelledby": "cr-merge" },
    h("h2", { id: "cr-merge" }, "Merge"),
    h("div", { class: "field" }, h("label", { for: strategyId }, "Strategy"), strategy, hint),
    h("div", { class: "actions" }, closeButton, mergeButton),
  );

  return [
    h("h1", {}, `!${request.number} ${request.title}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "State"), h("dd", {}, stateBadge(request.state), request.mergeSha ? ` as ${short(request.mergeSha)} by ${request.mergedBy || "?"}` : ""),
      h("dt", {}, "Branches"), h("dd", {}, h("code", {}, request.sourceBranch), " → ", h("code", {}, request.targetBranch)),
      h("dt", {}, "Author"), h("dd", {}, request.author),
      h("dt", {}, "Head"), h("dd", {}, h("code", { class: "head-sha" }, short(request.headSha)), ` (base ${short(request.baseSha)})`),
      h("dt", {}, "Opened"), h("dd", {}, time(request.createdAt)),
    ),
    request.description ? h("p", { class: "description" }, request.description) : null,
    status,
    diffSection(ctx, request),
    open ? checksSection(request) : null,
    h("section", { class: "card", "aria-labelledby": "cr-notes" }, h("h2", { id: "cr-notes" }, "Reviews and comments"), request.reviews.length + request.comments.length ? conversation(request) : h("p", { class: "empty" }, "No reviews or comments yet.")),
    open ? reviewForm : null,
    open ? mergeForm : null,
  ];
}
