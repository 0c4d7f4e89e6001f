"""Change requests in the SQL stores (``base_changes``), one mixin for SQLite and PostgreSQL.

Every write is one statement, so it is atomic in both dialects without an explicit
transaction: the number is allocated inside the ``INSERT`` (``max(number) + 1`` of the
repository); two creators racing for one number collide on ``UNIQUE (repository_uuid,
number)`` and the loser retries, while a second open request for the same branches collides
on the partial unique index ``change_requests_open`` and is ``AlreadyExists``. Updates are
``UPDATE ... WHERE state = 'OPEN' [AND head_sha = ?] RETURNING *``: the compare-and-swap is
the statement's own condition. Each dialect gives ``_cr_exec`` (run one statement, return
its rows) and its placeholder ``_MARK``.
"""

from __future__ import annotations

import uuid
from typing import Any

from gitstore.domain.errors import AlreadyExists, NotFound

from . import _common as c
from . import _rows as rows
from .base import Page
from .base_changes import (
    ChangeRequest,
    ChangeRequestMetadata,
    ChangeRequestNote,
    ChangeRequestStatus,
    check_approvals,
    check_change_request,
    check_updatable,
    head_moved,
    open_taken,
    update_changes,
)

_RETRIES = 8


def change_request(row: Any, k: rows.Codec) -> ChangeRequest:
    return ChangeRequest(
        id=row["id"],
        repository_uuid=row["repository_uuid"],
        number=int(row["number"]),
        source_branch=row["source_branch"],
        target_branch=row["target_branch"],
        title=row["title"],
        description=row["description"],
        author_id=row["author_id"],
        author_username=row["author_username"],
        state=ChangeRequestStatus(row["state"]),
        head_sha=row["head_sha"],
        base_sha=row["base_sha"],
        created_at=k.ts_in(row["created_at"]),
        updated_at=k.ts_in(row["updated_at"]),
        merge_sha=row["merge_sha"],
        merged_by=row["merged_by"],
        closed_at=k.opt_ts_in(row["closed_at"]),
    )


def note(row: Any, k: rows.Codec) -> ChangeRequestNote:
    return ChangeRequestNote(
        id=row["id"],
        change_request_id=row["change_request_id"],
        author_id=row["author_id"],
        author_username=row["author_username"],
        verdict=row["verdict"],
        body=row["body"],
        head_sha=row["head_sha"],
        created_at=k.ts_in(row["created_at"]),
    )


class SqlChangeRequests(ChangeRequestMetadata):
    _MARK: str
    _CODEC: rows.Codec
    _clock: c.Clock

    async def _cr_exec(self, sql: str, *params: Any) -> list[Any]:
        raise NotImplementedError

    async def _cr_repository(self, repository_uuid: str) -> None:
        m = self._MARK
        if not await self._cr_exec(f"SELECT 1 FROM repositories WHERE id = {m}", repository_uuid):
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")

    async def create_change_request(
        self,
        repository_uuid: str,
        *,
        source_branch: str,
        target_branch: str,
        title: str,
        description: str,
        author_id: str,
        author_username: str,
        head_sha: str,
        base_sha: str,
    ) -> ChangeRequest:
        check_change_request(source_branch, target_branch, title, description)
        await self._cr_repository(repository_uuid)
        m, k = self._MARK, self._CODEC
        now = k.ts_out(self._clock.now())
        sql = (
            "INSERT INTO change_requests (id, repository_uuid, number, source_branch,"
            " target_branch, title, description, author_id, author_username, state, head_sha,"
            f" base_sha, created_at, updated_at) SELECT {m}, {m},"
            f" coalesce(max(number), 0) + 1, {m}, {m}, {m}, {m}, {m}, {m}, 'OPEN', {m}, {m},"
            f" {m}, {m} FROM change_requests WHERE repository_uuid = {m} RETURNING *"
        )
        for _ in range(_RETRIES):
            params = (
                str(uuid.uuid4()),
                repository_uuid,
                source_branch,
                target_branch,
                title,
                description,
                author_id,
                author_username,
                head_sha,
                base_sha,
                now,
                now,
                repository_uuid,
            )
            try:
                found = await self._cr_exec(sql, *params)
            except AlreadyExists:
                taken = await self.find_open_change_request(
                    repository_uuid, source_branch, target_branch
                )
                if taken is not None:
                    raise AlreadyExists(
                        open_taken(source_branch, target_branch), field="sourceBranch"
                    ) from None
                continue  # lost the race for a number: take the next one
            return change_request(found[0], k)
        raise AlreadyExists("could not allocate a change request number, retry")

    async def get_change_request(self, change_request_id: str) -> ChangeRequest | None:
        sql = f"SELECT * FROM change_requests WHERE id = {self._MARK}"
        found = await self._cr_exec(sql, change_request_id)
        return change_request(found[0], self._CODEC) if found else None

    async def find_open_change_request(
        self, repository_uuid: str, source_branch: str, target_branch: str
    ) -> ChangeRequest | None:
        m = self._MARK
        sql = (
            f"SELECT * FROM change_requests WHERE repository_uuid = {m} AND source_branch = {m}"
            f" AND target_branch = {m} AND state = 'OPEN'"
        )
        found = await self._cr_exec(sql, repository_uuid, source_branch, target_branch)
        return change_request(found[0], self._CODEC) if found else None

    async def list_change_requests(
        self,
        repository_uuid: str,
        *,
        state: ChangeRequestStatus | None = None,
        source_branch: str | None = None,
        first: int,
        after: str | None = None,
    ) -> Page[ChangeRequest]:
        c.check_first(first)
        m = self._MARK
        where, params = [f"repository_uuid = {m}"], [repository_uuid]
        if state is not None:
            where.append(f"state = {m}")
            params.append(ChangeRequestStatus(state).value)
        if source_branch is not None:
            where.append(f"source_branch = {m}")
            params.append(source_branch)
        cond = " AND ".join(where)
        total = await self._cr_exec(
            f"SELECT count(*) AS n FROM change_requests WHERE {cond}", *params
        )
        page_params: list[Any] = list(params)
        if after is not None:
            cond += f" AND number < {m}"
            page_params.append(c.decode_seq_cursor(after))
        found = await self._cr_exec(
            f"SELECT * FROM change_requests WHERE {cond} ORDER BY number DESC LIMIT {m}",
            *page_params,
            first + 1,
        )
        items = [change_request(r, self._CODEC) for r in found[:first]]
        end = c.encode_seq_cursor(items[-1].number) if items else None
        return Page(items, int(total[0]["n"]), len(found) > first, end)

    async def update_change_request(
        self,
        change_request_id: str,
        *,
        expected_head: str | None = None,
        title: str | None = None,
        description: str | None = None,
        head_sha: str | None = None,
        base_sha: str | None = None,
        state: ChangeRequestStatus | None = None,
        merge_sha: str | None = None,
        merged_by: str | None = None,
    ) -> ChangeRequest:
        m, k = self._MARK, self._CODEC
        sets = update_changes(
            self._clock.now(),
            title=title,
            description=description,
            head_sha=head_sha,
            base_sha=base_sha,
            state=state,
            merge_sha=merge_sha,
            merged_by=merged_by,
        )
        for column in ("updated_at", "closed_at"):
            if column in sets:
                sets[column] = k.ts_out(sets[column])
        if "state" in sets:
            sets["state"] = sets["state"].value
        assignments = ", ".join(f"{col} = {m}" for col in sets)
        sql = f"UPDATE change_requests SET {assignments} WHERE id = {m} AND state = 'OPEN'"
        params: list[Any] = [*sets.values(), change_request_id]
        if expected_head is not None:
            sql += f" AND head_sha = {m}"
            params.append(expected_head)
        found = await self._cr_exec(sql + " RETURNING *", *params)
        if found:
            return change_request(found[0], k)
        current = check_updatable(
            change_request_id, await self.get_change_request(change_request_id), expected_head
        )
        raise head_moved(current, expected_head)  # it changed between the two statements

    async def _save_note(self, made: ChangeRequestNote) -> None:
        values = {
            "id": made.id,
            "change_request_id": made.change_request_id,
            "author_id": made.author_id,
            "author_username": made.author_username,
            "verdict": made.verdict,
            "body": made.body,
            "head_sha": made.head_sha,
            "created_at": self._CODEC.ts_out(made.created_at),
        }
        await self._cr_exec(
            rows.insert_sql("change_request_notes", values, self._MARK), *values.values()
        )

    async def list_change_request_notes(self, change_request_id: str) -> list[ChangeRequestNote]:
        sql = (
            f"SELECT * FROM change_request_notes WHERE change_request_id = {self._MARK}"
            " ORDER BY created_at, id"
        )
        return [note(r, self._CODEC) for r in await self._cr_exec(sql, change_request_id)]

    async def get_required_approvals(self, repository_uuid: str) -> int:
        sql = (
            "SELECT required_approvals FROM change_request_rules"
            f" WHERE repository_uuid = {self._MARK}"
        )
        found = await self._cr_exec(sql, repository_uuid)
        return int(found[0]["required_approvals"]) if found else 0

    async def set_required_approvals(self, repository_uuid: str, approvals: int) -> None:
        check_approvals(approvals)
        await self._cr_repository(repository_uuid)
        m = self._MARK
        sql = (
            "INSERT INTO change_request_rules (repository_uuid, required_approvals)"
            f" VALUES ({m}, {m}) ON CONFLICT (repository_uuid)"
            " DO UPDATE SET required_approvals = excluded.required_approvals"
        )
        await self._cr_exec(sql, repository_uuid, approvals)
