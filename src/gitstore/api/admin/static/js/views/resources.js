// Browse and search the resources of a repository, every kind (custom kinds included).
import { gql } from "../api.js";
import { h, table, uid } from "../dom.js";
import { repositoryKinds, titleOf } from "../kinds.js";

const LIST = `query($repository: String!, $kind: String) {
  repository(by: {fullName: $repository}) { fullName description publishMode visibility defaultBranch }
  resources(repository: $repository, kind: $kind) {
    resourceVersion
    items { kind name generation labels spec }
  }
}`;

export async function resourcesView(ctx) {
  const selected = ctx.params.get("kind") || "";
  const [kinds, data] = await Promise.all([repositoryKinds(ctx.repo), gql(LIST, { repository: ctx.repo, kind: selected || null })]);
  const repo = data.repository;
  const items = data.resources.items;
  const kindId = uid("kind");
  const searchId = uid("search");
  const kindSelect = h(
    "select",
    { id: kindId },
    h("option", { value: "" }, "All kinds"),
    Array.from(kinds.keys()).sort().map((k) => h("option", { value: k, selected: k === selected }, k)),
  );
  kindSelect.addEventListener("change", () => {
    const q = search.value ? `&q=${encodeURIComponent(search.value)}` : "";
    ctx.navigate(`${ctx.repoHref(ctx.repo)}?kind=${encodeURIComponent(kindSelect.value)}${q}`);
  });
  const search = h("input", { id: searchId, type: "search", value: ctx.params.get("q") || "", autocomplete: "off" });
  const count = h("p", { role: "status", class: "muted" });
  const results = h("div");
  const render = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = items.filter((item) => {
      const text = `${item.kind} ${item.name} ${titleOf(item)} ${Object.entries(item.labels || {}).map(([k, v]) => `${k}=${v}`).join(" ")}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
    count.textContent = `${shown.length} of ${items.length} resources`;
    results.replaceChildren(
      table(
        "Resources",
        ["Name", "Kind", "Title", "Generation"],
        shown.map((item) => [
          h("a", { href: ctx.repoHref(ctx.repo, "resource", item.kind, item.name) }, item.name),
          item.kind,
          titleOf(item),
          String(item.generation),
        ]),
        items.length ? "No resource matches the search." : "No resources yet (a new commit shows up here once the worker has projected it).",
      ),
    );
  };
  search.addEventListener("input", render);
  render();
  const newKind = selected && kinds.has(selected) ? selected : "Product";
  return [
    h("h1", {}, repo ? repo.fullName : ctx.repo),
    repo
      ? h("p", { class: "muted" }, repo.description || "", repo.description ? " · " : "", repo.publishMode === "ON_RELEASE_TAG" ? "publishes on release tags" : "publishes on commit", " · ", repo.visibility.toLowerCase())
      : null,
    h(
      "div",
      { class: "toolbar" },
      h("div", { class: "field inline" }, h("label", { for: kindId }, "Kind"), kindSelect),
      h("div", { class: "field inline grow" }, h("label", { for: searchId }, "Search"), search),
      h("a", { class: "button primary", href: ctx.repoHref(ctx.repo, "new", newKind) }, `New ${newKind}`),
    ),
    count,
    results,
  ];
}
