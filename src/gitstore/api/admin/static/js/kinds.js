// Kind definitions of a repository: the built-in ones (shipped with the server, public:
// /admin/builtin-kinds.json) and the repository's custom KindDefinition resources (GraphQL).
import { gql } from "./api.js";

const CUSTOM = `query($repository: String!) {
  resources(repository: $repository, kind: "KindDefinition") { items { name spec } }
}`;

let builtin = null;

async function builtinKinds() {
  if (!builtin) {
    const response = await fetch("builtin-kinds.json");
    if (!response.ok) throw new Error(`built-in kinds: HTTP ${response.status}`);
    builtin = await response.json();
  }
  return builtin;
}

/** [{kind, plural, group, description, builtin, versions: [{name, storage, schema}]}] by kind name. */
export async function repositoryKinds(repository) {
  const [shipped, data] = await Promise.all([builtinKinds(), gql(CUSTOM, { repository })]);
  const all = new Map();
  for (const def of shipped) all.set(def.names.kind, normalise(def, true));
  for (const item of data.resources.items) {
    const spec = item.spec || {};
    if (spec.names?.kind && !all.has(spec.names.kind)) all.set(spec.names.kind, normalise(spec, false));
  }
  return all;
}

function normalise(spec, isBuiltin) {
  return {
    kind: spec.names.kind,
    plural: spec.names.plural,
    group: spec.group,
    description: spec.description || "",
    builtin: isBuiltin,
    versions: spec.versions || [],
  };
}

/** The version a manifest is written in: the hub (storage) version. */
export function hubVersion(kind) {
  return kind.versions.find((v) => v.storage) || kind.versions[0];
}

export function apiVersionOf(kind) {
  return `${kind.group}/${hubVersion(kind).name}`;
}

/** A short human title for a resource: spec.title, spec.name or the name. */
export function titleOf(resource) {
  const spec = resource.spec || {};
  return typeof spec.title === "string" ? spec.title : typeof spec.displayName === "string" ? spec.displayName : "";
}
