"""Who may read and write what. Every resolver and service asks here, nowhere else.

- Anonymous callers read the product catalog and nothing else.
- A user reads their own profile, orders and history; an admin reads everything.
- Writes: admins manage users and products; users update themselves (not their role),
  place orders for themselves and cancel their own pending orders.
"""

from __future__ import annotations

import uuid

from app.auth.viewer import Viewer
from app.errors import Forbidden, Unauthenticated


def require_user(viewer: Viewer, *, to: str) -> uuid.UUID:
    """The viewer's user id; anonymous callers are told to sign in."""
    if viewer.user_id is None:
        raise Unauthenticated(f"Sign in to {to}: send Authorization: Bearer <token>.")
    return viewer.user_id


def require_admin(viewer: Viewer, *, to: str) -> uuid.UUID:
    user_id = require_user(viewer, to=to)
    if not viewer.is_admin:
        raise Forbidden(f"Only admins may {to}.")
    return user_id


def owner_scope(viewer: Viewer, *, to: str) -> uuid.UUID | None:
    """The one user whose rows the viewer may read, or None for all (admins)."""
    user_id = require_user(viewer, to=to)
    return None if viewer.is_admin else user_id


def can_read_user(viewer: Viewer, user_id: uuid.UUID) -> bool:
    return viewer.is_admin or (viewer.user_id is not None and viewer.user_id == user_id)


def can_read_order(viewer: Viewer, owner_id: uuid.UUID) -> bool:
    return can_read_user(viewer, owner_id)


def can_act_for(viewer: Viewer, user_id: uuid.UUID) -> bool:
    """Whether the viewer may change things on behalf of user_id."""
    return can_read_user(viewer, user_id)
