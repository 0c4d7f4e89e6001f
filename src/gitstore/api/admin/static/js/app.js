// Entry point: hash routes, page frame (account menu, breadcrumbs, repository tabs), focus.
import { session, whenSignedOut, ApiError } from "./api.js";
import { h, clear, notice, announce } from "./dom.js";
import { loginView } from "./views/login.js";
import { homeView } from "./views/home.js";
import { resourcesView } from "./views/resources.js";
import { resourceView } from "./views/resource.js";
import { releasesView } from "./views/releases.js";
import { commitsView } from "./views/commits.js";
import { webhooksView, auditView } from "./views/activity.js";
import { changesView } from "./views/changes.js";
import { changeRequestView } from "./views/changerequest.js";

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const account = document.getElementById("account");

const REPO_TABS = [
  ["", "Resources"],
  ["changes", "Change requests"],
  ["commits", "Commits"],
  ["releases", "Releases"],
  ["webhooks", "Webhooks"],
  ["audit", "Push log"],
];

export function repoHref(repo, ...parts) {
  return `#/repo/${repo.split("/").map(encodeURIComponent).join("/")}${parts.length ? "/" + parts.map(encodeURIComponent).join("/") : ""}`;
}

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parse() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function renderAccount() {
  if (!session.token) {
    clear(account);
    return;
  }
  clear(
    account,
    h("span", { class: "who" }, "Signed in as ", h("strong", {}, session.username)),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  );
}

function signOut() {
  session.end();
  announce("Signed out.");
  navigate("#/login");
}

function renderCrumbs(items) {
  clear(
    crumbs,
    h(
      "ol",
      {},
      items.map(([label, href], index) =>
        h("li", {}, index === items.length - 1 ? h("span", { "aria-current": "page" }, label) : h("a", { href }, label)),
      ),
    ),
  );
}

function repoFrame(repo, active, body) {
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Repository" },
    h(
      "ul",
      {},
      REPO_TABS.map(([slug, label]) =>
        h("li", {}, h("a", { href: repoHref(repo, ...(slug ? [slug] : [])), "aria-current": slug === active ? "page" : false }, label)),
      ),
    ),
  );
  return [tabs, body];
}

let renderSerial = 0;
let flashed = null;

/** Show `nodes` under the heading of the next page rendered (e.g. "Saved as commit …"). */
function flash(...nodes) {
  flashed = nodes;
}

async function render() {
  const serial = ++renderSerial;
  renderAccount();
  const { parts, params } = parse();
  if (!session.token && parts[0] !== "login") {
    navigate("#/login");
    return;
  }
  const ctx = { params, navigate, repoHref, flash, reload: () => render() };
  let view;
  let trail = [["Namespaces", "#/"]];
  try {
    if (parts[0] === "login") {
      trail = [["Sign in", "#/login"]];
      view = await loginView(ctx);
    } else if (parts[0] === "repo" && parts.length >= 3) {
      const repo = `${parts[1]}/${parts[2]}`;
      ctx.repo = repo;
      const rest = parts.slice(3);
      trail.push([repo, repoHref(repo)]);
      let tab = "";
      let body;
      if (rest[0] === "resource" && rest.length >= 3) {
        trail.push([`${rest[1]} ${rest[2]}`, location.hash]);
        body = await resourceView(ctx, rest[1], rest[2]);
      } else if (rest[0] === "new" && rest.length >= 2) {
        trail.push([`New ${rest[1]}`, location.hash]);
        body = await resourceView(ctx, rest[1], null);
      } else if (rest[0] === "change" && rest.length >= 2) {
        tab = "changes";
        trail.push(["Change requests", repoHref(repo, "changes")]);
        trail.push([`Change request ${ctx.params.get("n") ? "!" + ctx.params.get("n") : ""}`.trim(), location.hash]);
        body = await changeRequestView(ctx, rest[1]);
      } else if (["changes", "commits", "releases", "webhooks", "audit"].includes(rest[0])) {
        tab = rest[0];
        trail.push([REPO_TABS.find(([slug]) => slug === tab)[1], location.hash]);
        const views = { changes: changesView, commits: commitsView, releases: releasesView, webhooks: webhooksView, audit: auditView };
        body = await views[tab](ctx);
      } else {
        body = await resourcesView(ctx);
      }
      view = repoFrame(repo, tab, body);
    } else {
      view = await homeView(ctx);
    }
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") return;
    view = [h("h1", { tabindex: "-1" }, "Something went wrong"), notice("error", error.message)];
  }
  if (serial !== renderSerial) return;
  renderCrumbs(trail);
  clear(main, view);
  const heading = main.querySelector("h1");
  if (flashed) {
    const nodes = flashed;
    flashed = null;
    nodes.forEach((node) => node.classList.add("flash"));
    if (heading) heading.after(...nodes);
    else main.prepend(...nodes);
  }
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    document.title = `${heading.textContent} · GitStore admin`;
    if (!ctx.keepFocus) heading.focus();
  }
}

// The skip link must not change the hash (that is the router's): move focus instead.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  (main.querySelector("h1") || main).focus();
});

whenSignedOut(() => navigate("#/login"));
window.addEventListener("hashchange", render);
render();
