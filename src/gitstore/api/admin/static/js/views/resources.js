// Browse and search the resources of a repository, every kind (custom kinds included). All
// kinds: the whole list (`resources`); one kind: pages of 20 from the repository's store
// endpoint's connection (`catalog { products(first, after) }`, `acmeExample { brands(...) }`).
import { gql, storeEndpoint } from "../api.js";
import { h, table, uid, notice } from "../dom.js";
import { repositoryKinds, titleOf, hubVersion } from "../kinds.js";
import { PAGE_SIZE, pageState, pager } from "../paging.js";

const CATALOG_KINDS = new Set(["Product", "Category", "Collection"]);

/** `acme.example` → `acmeExample` (the store endpoint's field of a kind group). */
function groupField(group) {
  const parts = group.split(/[^0-9A-Za-z_]+/).filter(Boolean);
  return parts[0] + parts.slice(1).map((p) => p.slice(0, 1).toUpperCase() + p.slice(1)).join("");
}

/** One page of a kind's resources from the store endpoint, or null when it has no connection. */
async function kindPage(repo, kind, after) {
  if (!kind || kind.kind === "KindDefinition") return null;
  const holder = CATALOG_KINDS.has(kind.kind) && kind.builtin ? "catalog" : kind.builtin ? null : groupField(kind.group);
  if (!holder || !/^[A-Za-z_][0-9A-Za-z_]*$/.test(kind.plural)) return null;
  // the title too when the kind's schema has one (typed from the hub schema as `title`)
  const titled = hubVersion(kind)?.schema?.properties?.title?.type === "string";
  const query = `query($first: Int, $after: String) {
    holder: ${holder}(channel: DRAFT) {
      page: ${kind.plural}(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { name${titled ? " title" : ""} }
      }
    }
  }`;
  const data = await gql(query, { first: PAGE_SIZE, after }, storeEndpoint(repo));
  return data.holder ? data.holder.page : null;
}

const LIST = `query($repository: String!, $kind: String, $all: Boolean!) {
  repository(by: {fullName: $repository}) { fullName description publishMode visibility defaultBranch }
  resources(repository: $repository, kind: $kind) @include(if: $all) {
    resourceVersion
    items { kind name generation labels spec }
  }
}`;

export async function resourcesView(ctx) {
  const selected = ctx.params.get("kind") || "";
  const { trail, after } = pageState(ctx.params);
  const kinds = await repositoryKinds(ctx.repo);
  let page = null;
  let pagingProblem = null;
  try {
    page = await kindPage(ctx.repo, kinds.get(selected), after);
  } catch (error) {
    pagingProblem = error.message; // e.g. a kind the store endpoint could not type: list it whole
  }
  const data = await gql(LIST, { repository: ctx.repo, kind: selected || null, all: !page });
  const repo = data.repository;
  const items = page ? page.nodes.map((node) => ({ kind: selected, name: node.name, spec: { title: node.title }, labels: {}, generation: "" })) : data.resources.items;
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
    count.textContent = page ? `${shown.length} of ${items.length} resources on this page` : `${shown.length} of ${items.length} resources`;
    const headers = page ? ["Name", "Kind", "Title"] : ["Name", "Kind", "Title", "Generation"];
    results.replaceChildren(
      table(
        "Resources",
        headers,
        shown.map((item) =>
          [
            h("a", { href: ctx.repoHref(ctx.repo, "resource", item.kind, item.name) }, item.name),
            item.kind,
            titleOf(item),
            String(item.generation),
          ].slice(0, headers.length),
        ),
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
    pagingProblem ? notice("info", `Shown in full (no pages): ${pagingProblem}`) : null,
    count,
    results,
    page ? pager(ctx.repoHref(ctx.repo), { kind: selected }, trail, page, `${selected} resources`) : null,
  ];
}
