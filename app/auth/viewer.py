"""The viewer: who a request acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in user, or anonymous (user_id None)."""

    user_id: uuid.UUID | None = None
    role: str | None = None
    token_id: uuid.UUID | None = None
    expires_at: datetime | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Viewer()


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from, for the audit trail."""

    request_id: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
