"""``gitstore demo``: load a realistic sample catalogue into a running GitStore.

A client of the API like any other (it needs `gitstore serve`, or `gitstore api` with a
worker, to be running): it logs in with an existing user's credentials (``--username`` and
the password on stdin, or ``--token``), creates the namespace and public repository
``demo/catalog`` unless they exist, loads the generated catalogue (``demo_catalog``) through
``applyManifests`` in batches (``demo_load``), waits until storefront reads see it and prints
example storefront queries. Creating the user is left to ``gitstore user create``: the demo
never touches a store directly, so it works the same against a remote server.

Progress goes to stderr (a progress bar on a terminal, one line per batch otherwise); the
summary and the example queries go to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gitstore.domain.errors import InvalidArgument, Unavailable

from .demo_catalog import MAX_PRODUCTS, DemoCatalog, build_catalog
from .demo_load import BatchResult, LoadResult, ensure_namespace, ensure_repository, load, login
from .graphql_client import GraphQLClient
from .user import read_password

DEFAULT_URL = "http://127.0.0.1:8080"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="load a sample catalogue into a running server",
        description="Log in to a running GitStore API, create the namespace and public "
        "repository (demo/catalog) if needed and load a generated sample catalogue (products, "
        "categories, collections) through applyManifests. Safe to run again. Create the user "
        "first: gitstore user create NAME --password-stdin.",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"API base URL ({DEFAULT_URL})")
    parser.add_argument("--username", help="log in as this user (password from stdin)")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    parser.add_argument("--token", help="a login token or personal access token (write scope)")
    parser.add_argument(
        "--repository", default="demo/catalog", help="<namespace>/<name> (demo/catalog)"
    )
    parser.add_argument(
        "--products", type=int, default=400, help=f"how many products, 1-{MAX_PRODUCTS} (400)"
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument("--batch-size", type=int, default=100, help="manifests per commit (100)")
    parser.add_argument(
        "--index-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the catalogue to be indexed (120)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _check(args)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request
    catalog = build_catalog(args.products, args.seed)
    err = Console(stderr=True)
    with GraphQLClient(args.url) as client:
        if args.token:
            client.token = args.token
        else:
            client.token = login(client, args.username, read_password(args.password_stdin))
        namespace = args.repository.split("/", 1)[0]
        ns_created = ensure_namespace(client, namespace)
        repo_created, public = ensure_repository(client, args.repository)
        err.print(
            f"namespace {namespace} {'created' if ns_created else 'exists'}, repository "
            f"{args.repository} {'created' if repo_created else 'exists'}",
            highlight=False,
        )
        started = time.monotonic()
        result = _load(client, args, catalog, err)
        elapsed = time.monotonic() - started
    if not result.indexed:
        raise Unavailable(
            f"loaded {args.repository} (head {result.head}) but it was not indexed within "
            f"{args.index_timeout:g} s; is the worker running? (see the `gitstore serve` log)"
        )
    print(_summary(args, catalog, result, elapsed, public))
    return 0


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.products <= MAX_PRODUCTS:
        raise InvalidArgument(f"--products must be 1-{MAX_PRODUCTS}, got {args.products}")
    if not 1 <= args.batch_size <= 1000:
        raise InvalidArgument(f"--batch-size must be 1-1000, got {args.batch_size}")
    if args.index_timeout <= 0:
        raise InvalidArgument("--index-timeout must be positive")
    namespace, _, name = args.repository.partition("/")
    if not namespace or not name or "/" in name:
        raise InvalidArgument(f"--repository must be <namespace>/<name>, got {args.repository!r}")
    if not args.token and not args.username:
        raise InvalidArgument(
            "give --username NAME (password on stdin with --password-stdin) or --token TOKEN; "
            "create a user first with: gitstore user create NAME --password-stdin"
        )


def _load(
    client: GraphQLClient, args: argparse.Namespace, catalog: DemoCatalog, err: Console
) -> LoadResult:
    inputs = catalog.inputs()
    if not err.is_terminal:

        def line(batch: BatchResult) -> None:
            err.print(f"batch {batch.number}/{batch.total}: {_outcome(batch)}", highlight=False)

        return load(
            client,
            args.repository,
            inputs,
            batch_size=args.batch_size,
            index_timeout=args.index_timeout,
            on_batch=line,
        )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(f"loading {args.repository}", total=len(inputs))

        def advance(batch: BatchResult) -> None:
            progress.advance(task, batch.manifests)
            progress.console.print(
                f"batch {batch.number}/{batch.total}: {_outcome(batch)}", highlight=False
            )

        return load(
            client,
            args.repository,
            inputs,
            batch_size=args.batch_size,
            index_timeout=args.index_timeout,
            on_batch=advance,
        )


def _outcome(batch: BatchResult) -> str:
    sha = (batch.commit or "")[:12]
    if batch.replayed:
        return f"{batch.manifests} manifests, already loaded (commit {sha}, replayed)"
    if not batch.committed:
        return f"{batch.manifests} manifests, unchanged (head {sha})"
    counts = ", ".join(f"{n} {kind.lower()}" for kind, n in sorted(batch.changes.items()))
    return f"{batch.manifests} manifests, commit {sha} ({counts})"


def _summary(
    args: argparse.Namespace, catalog: DemoCatalog, result: LoadResult, elapsed: float, public: bool
) -> str:
    handle = next(
        (p["spec"]["handle"] for p in catalog.products if p["spec"]["status"] == "active"),
        catalog.products[0]["spec"]["handle"],
    )
    lines = [
        f"Loaded {len(catalog.products)} products, {len(catalog.categories)} categories and "
        f"{len(catalog.collections)} collections into {args.repository} in "
        f"{len(result.batches)} batches ({result.commits} new commits) in {elapsed:.1f} s; "
        f"storefront reads see commit {result.head}.",
        "",
        "Try these storefront queries"
        + (" (the repository is public: no token needed):" if public else ":"),
    ]
    queries = [
        '{ catalog(repository: REPO) { version products(first: 5, filter: {category: "sweaters",'
        " status: ACTIVE}) { totalCount nodes { title price { amount currency } } pageInfo {"
        " hasNextPage endCursor } } } }",
        '{ catalog(repository: REPO) { products(first: 5, filter: {collection: "sale"}) {'
        " totalCount nodes { title price { amount currency } compareAtPrice { amount } } } } }",
        "{ catalog(repository: REPO) { product(handle: HANDLE) { title vendor status"
        " description variants { sku title price { amount currency } inventoryQuantity }"
        " media { url } seo { title } version } } }",
        '{ catalog(repository: REPO) { categories(first: 20, filter: {parent: "apparel"}) {'
        " nodes { name title } } collections(first: 10) { nodes { name title products rules {"
        " field relation condition } } } } }",
    ]
    queries = [
        q.replace("REPO", json.dumps(args.repository)).replace("HANDLE", json.dumps(handle))
        for q in queries
    ]
    for query in queries:
        lines.append("")
        lines.append(_curl(args.url, query, public))
    return "\n".join(lines)


def _curl(url: str, query: str, public: bool) -> str:
    body = json.dumps({"query": query})
    auth = "" if public else ' -H "authorization: Bearer $TOKEN"'
    return (
        f"curl -s {url.rstrip('/')}/graphql -H 'content-type: application/json'{auth} "
        f"-d {shlex.quote(body)}"
    )
