"""The catalogue write path: how a mutation becomes one validated, idempotent commit.

Every catalogue mutation (``applyManifests``, ``upsert<Kind>``, ``delete<Kind>``,
``revertCommit``) runs :class:`writer.CatalogWriter`; the GraphQL layer
(``api/graphql/catalog_mutations.py``) only turns arguments into its inputs and its answers
into payloads. The API holds no git state: every read and the commit are gRPC calls to the
git service. Nothing is committed unless every step passes. In order, and where each step
lives:

1. **Who may write** (``access``): the caller may write the repository's namespace; checked
   before the input is read, so a caller without access learns nothing from bad input.
2. **Input** (``inputs``): options and manifests checked without I/O — manifests validated
   against their kind's schema by the content model (``gitstore.domain.content``), every
   problem at once. Refusals take the shape of GraphQL ``userErrors`` (``problems``: the
   content model's ``ContentError``s re-rooted on the mutation's input fields).
3. **Kinds** (``kinds``): the registry a write is judged with — the branch head's kinds plus
   the request's own ``KindDefinition``s; a change of kinds is admitted by the rules the
   push check applies too (``gitstore.domain.kindchange``, wired by ``api/kinds.py``).
4. **Idempotency** (``idempotency``): with an ``idempotencyKey``, claim it or replay the first
   answer; one commit per key, also under concurrent retries and after a dead owner.
5. **Plan and commit**, round after round (``writer``): read the branch head and the
   resources' files there (``git``: :class:`git.BranchView`, every git-service call of the
   path, and the read set a commit sends as its precondition), check ``expectedVersion`` and
   turn operations into commit actions with semantic diffs (``plan``; ``revert`` plans the
   inverse of an earlier commit), then ``CommitFiles`` with the head as compare-and-swap. A
   lost race replans on the new head; an acknowledgement lost in transit is found again by
   its trailers (``recovery``).
6. **Answer** (``result``): :class:`result.WriteResult` — the commit, the changes, the written
   resources — also what an idempotency key stores; the indexing handle and ``waitForIndex``
   (``indexing``): read-your-writes for agents.

Beside the pipeline: a resource's history from Git (``history``), the flat to fan-out layout
migration (``layout``), and the write path's metrics (``metrics``). The detailed order, the
trailers and the retry rules are in ``writer``'s docstring and docs/mutations.md.
"""
