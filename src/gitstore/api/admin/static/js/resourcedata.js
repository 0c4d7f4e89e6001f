// Reading one resource (with the draft commit it was read at), and waiting for the worker to
// project a change to it.
import { gql } from "./api.js";

export const DRAFT_VERSION = `query($repository: String!) {
  catalog(repository: $repository, channel: DRAFT) { version }
}`;

export const GET = `query($repository: String!, $kind: String!, $name: String!) {
  catalog(repository: $repository, channel: DRAFT) { version }
  resource(repository: $repository, kind: $kind, name: $name) {
    kind name apiVersion resourceVersion generation labels annotations spec status creationTimestamp
  }
}`;

/**
 * Wait (up to ~10 s) until the worker has projected a change to the resource (it exists, and
 * its resourceVersion is no longer `before`), so the page shown next shows the change.
 */
export async function projected(repository, kind, name, before = null) {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const data = await gql(GET, { repository, kind, name });
    if (data.resource && data.resource.resourceVersion !== before) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
