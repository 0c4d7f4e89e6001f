// Releases, what is live, publications; create a release; publish / roll back (confirmed).
import { gql, mutate } from "../api.js";
import { h, notice, announce, time, short, table, uid, confirmDialog } from "../dom.js";
import { fieldErrors } from "../schemaform.js";

const READ = `query($repository: String!) {
  repository(by: {fullName: $repository}) { publishMode defaultBranch releasePatterns }
  liveRelease(repository: $repository) { tag commit publishedAt publishedBy }
  releases(repository: $repository, first: 20) { nodes { tag commit createdAt createdBy source message status publishedAt publishedBy } }
  publications(repository: $repository, first: 10) { nodes { sequence tag commit kind state requestedAt requestedBy completedAt error } }
}`;
const PUBLISH = `mutation($input: PublishReleaseInput!) {
  publishRelease(input: $input) { publication { sequence tag state } userErrors { field message code } }
}`;
const CREATE = `mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { release { tag commit } publication { sequence } userErrors { field message code } }
}`;

export async function releasesView(ctx) {
  const data = await gql(READ, { repository: ctx.repo });
  const onTags = data.repository?.publishMode === "ON_RELEASE_TAG";
  const live = data.liveRelease;
  const releases = data.releases.nodes;
  const status = h("div", { "aria-live": "polite" });
  const liveIndex = releases.findIndex((r) => r.status === "LIVE");

  const publish = async (release, index, button) => {
    const back = liveIndex >= 0 && index > liveIndex;
    const verb = back ? "Roll back" : "Publish";
    const confirmed = await confirmDialog({
      title: `${verb} to ${release.tag}?`,
      body: [
        h("p", {}, `Storefronts will show commit ${short(release.commit)} (${release.tag}) instead of `, live ? `${live.tag} (${short(live.commit)})` : "what they show now", "."),
        h("p", {}, "This is a new publication; you can publish another release at any time."),
      ],
      confirmLabel: `${verb} to ${release.tag}`,
      danger: back,
    });
    if (!confirmed) return;
    button.disabled = true;
    try {
      const payload = await mutate(PUBLISH, { repository: ctx.repo, tag: release.tag });
      if (payload.userErrors.length) {
        status.replaceChildren(notice("error", payload.userErrors.map((e) => e.message).join(" ")));
        button.disabled = false;
        return;
      }
      announce(`Publication ${payload.publication.sequence} of ${release.tag} requested.`);
      ctx.navigate(ctx.repoHref(ctx.repo, "releases"));
    } catch (error) {
      status.replaceChildren(notice("error", error.message));
      button.disabled = false;
    }
  };

  const rows = releases.map((r, index) => {
    let action = "";
    if (onTags && r.status !== "LIVE") {
      const back = liveIndex >= 0 && index > liveIndex;
      const button = h("button", { type: "button", class: "small", "aria-label": `${back ? "Roll back" : "Publish"} to ${r.tag}` }, back ? "Roll back to this" : "Publish");
      button.addEventListener("click", () => publish(r, index, button));
      action = button;
    }
    return [
      h("strong", {}, r.tag),
      h("span", { class: `badge release-${r.status.toLowerCase()}` }, r.status.replace("_", " ").toLowerCase()),
      h("code", {}, short(r.commit)),
      [r.createdBy, " ", time(r.createdAt)],
      r.message,
      action,
    ];
  });
  const publications = data.publications.nodes.map((p) => [
    String(p.sequence),
    p.tag,
    h("code", {}, short(p.commit)),
    p.kind.toLowerCase(),
    h("span", { class: `badge pub-${p.state.toLowerCase()}` }, p.state.toLowerCase()),
    [p.requestedBy, " ", time(p.requestedAt)],
    p.error,
  ]);
  return [
    h("h1", {}, `Releases of ${ctx.repo}`),
    h(
      "section",
      { class: "card live", "aria-labelledby": "live-title" },
      h("h2", { id: "live-title" }, "Live now"),
      onTags
        ? live
          ? h("p", { id: "live-release" }, h("strong", {}, live.tag), " at ", h("code", {}, short(live.commit)), " — published by ", live.publishedBy || "?", " ", time(live.publishedAt))
          : h("p", { id: "live-release" }, "No release is live yet.")
        : h("p", { id: "live-release" }, `This repository publishes on commit: storefronts follow ${data.repository?.defaultBranch || "the default branch"}. Releases are recorded but not published.`),
    ),
    status,
    table("Releases (newest first)", ["Tag", "Status", "Commit", "Created", "Message", "Action"], rows, "No releases yet."),
    createReleaseForm(ctx, data.repository),
    table("Publications (newest first)", ["#", "Tag", "Commit", "Kind", "State", "Requested", "Error"], publications, "No publications yet."),
  ];
}

function createReleaseForm(ctx, repository) {
  const status = h("div");
  const tagId = uid("tag");
  const revId = uid("rev");
  const msgId = uid("rmsg");
  const tag = h("input", { id: tagId, name: "tag", required: true, spellcheck: "false", "aria-describedby": `${tagId}-hint` });
  const revision = h("input", { id: revId, name: "revision", spellcheck: "false", placeholder: repository?.defaultBranch || "main" });
  const message = h("input", { id: msgId, name: "message" });
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "new-release" },
    h("h2", { id: "new-release" }, "Create a release"),
    h("div", { class: "field", dataset: { path: "tag" } }, h("label", { for: tagId }, "Tag"), h("p", { class: "hint", id: `${tagId}-hint` }, `Must match ${(repository?.releasePatterns || []).join(" or ")}.`), tag),
    h("div", { class: "field", dataset: { path: "revision" } }, h("label", { for: revId }, "Commit or branch (default: the default branch)"), revision),
    h("div", { class: "field", dataset: { path: "message" } }, h("label", { for: msgId }, "Message"), message),
    status,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create release")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const payload = await mutate(CREATE, { repository: ctx.repo, tag: tag.value.trim(), revision: revision.value.trim(), message: message.value });
      if (fieldErrors(form, payload.userErrors, status)) return;
      announce(`Release ${payload.release.tag} created.`);
      ctx.navigate(ctx.repoHref(ctx.repo, "releases"));
    } catch (error) {
      status.replaceChildren(notice("error", error.message));
    }
  });
  return form;
}
