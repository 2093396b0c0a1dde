"""Two apps on one database: READ_PATH=auto and READ_PATH=executor, side by side.

`Pair.compare` sends a document to both as the same viewer and requires the same body
(data, errors and their order) and, for an answer without errors, the same
statements; it says which path the
auto app took. Each app has seen the document once before the compared request, so
the auto app's answer comes from its plan when there is one, and neither counts the
statements of parsing it or of checking the viewer's token.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tests.conftest import Api, running_app, token_for

USER_EMAIL = "user000003@example.com"
OTHER_EMAIL = "user000004@example.com"


@dataclass
class Outcome:
    path: str
    body: Any
    statements: list[str]


@dataclass
class Pair:
    auto: Api
    executor: Api
    tokens: dict[str, str | None]

    async def send(self, api: Api, viewer: str, document: str, variables: Any) -> Outcome:
        token = self.tokens[viewer]
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = {"query": document, "variables": variables}
        await api.client.post("/graphql", json=body, headers=headers)
        api.statements.clear()
        response = await api.client.post("/graphql", json=body, headers=headers)
        return Outcome(
            response.headers.get("x-read-path", "?"),
            (response.status_code, response.json()),
            sorted(api.statements.statements),
        )

    async def compare(self, viewer: str, document: str, variables: Any = None) -> str:
        planned = await self.send(self.auto, viewer, document, variables)
        executed = await self.send(self.executor, viewer, document, variables)
        assert executed.path == "executor"
        context = f"viewer={viewer} path={planned.path}\n{document}\nvariables={variables}"
        assert planned.body == executed.body, context
        if "errors" not in executed.body[1]:
            # With errors, the executor's own statements vary from run to run: a null
            # that propagates cancels the sibling fields still reading.
            assert planned.statements == executed.statements, context
        return planned.path


@contextlib.asynccontextmanager
async def pair(url: str, **overrides: Any) -> AsyncIterator[Pair]:
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "user": await token_for(url, USER_EMAIL),
        "admin": await token_for(url, "admin@example.com"),
    }
    async with (
        # Tokens trusted for the whole test: a re-check would count as a statement.
        running_app(
            url, as_admin=False, read_path="auto", auth_cache_seconds=3600, **overrides
        ) as auto,
        running_app(
            url, as_admin=False, read_path="executor", auth_cache_seconds=3600, **overrides
        ) as executor,
    ):
        yield Pair(auto, executor, tokens)


VIEWERS = ("anonymous", "user", "admin")
