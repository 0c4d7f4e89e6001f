// Paging through a GraphQL connection (first / after). The hash keeps the cursors of the pages
// before this one (`pages`, space-separated), so Previous works from a link or a reload too.
import { h } from "./dom.js";

export const PAGE_SIZE = 20;

/** The cursors of the pages before (from the hash) and the `after` of this page. */
export function pageState(params) {
  const trail = (params.get("pages") || "").split(" ").filter(Boolean);
  return { trail, after: trail.length ? trail[trail.length - 1] : null };
}

/**
 * Previous / next links and "21–40 of 45" for one page of a connection. `base` is the hash
 * of the list without a query; `params` the list's other query parameters (kept).
 */
export function pager(base, params, trail, connection, label) {
  const shown = connection.nodes.length;
  const start = trail.length * PAGE_SIZE;
  const href = (pages) => {
    const query = new URLSearchParams(params);
    query.delete("pages");
    if (pages.length) query.set("pages", pages.join(" "));
    const text = query.toString();
    return text ? `${base}?${text}` : base;
  };
  const range = shown ? `${start + 1}–${start + shown} of ${connection.totalCount}` : `0 of ${connection.totalCount}`;
  return h(
    "nav",
    { class: "pager", "aria-label": `Pages of ${label}` },
    trail.length ? h("a", { class: "button small", href: href(trail.slice(0, -1)), rel: "prev" }, "Previous page") : null,
    h("span", { class: "muted", role: "status" }, `${label}: ${range}`),
    connection.pageInfo.hasNextPage && connection.pageInfo.endCursor
      ? h("a", { class: "button small", href: href([...trail, connection.pageInfo.endCursor]), rel: "next" }, "Next page")
      : null,
  );
}
