"""Staff: roles, districts, one-time invite codes, and the authorisation of every staff action.

A person's role is ``users.role`` (``resident`` unless they joined the staff); the ids in ``ADMIN_IDS`` are admins
whatever the table says. Every check reads the role from the database at the moment of the action, so a role
changed or removed a second ago counts, whatever chat the request comes from and whatever a button says.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import aiosqlite

from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, Reader, read_rows
from bot.platform.i18n import N_

log = logging.getLogger(__name__)

INVITE_VALID_FOR = timedelta(days=2)
_INVITE_PREFIX = "join-"
# Deep-link payloads allow A-Z, a-z, 0-9, _ and - (at most 64 characters).
_INVITE_CODE = re.compile(r"^join-[A-Za-z0-9_-]{12}$")


class Role(StrEnum):
    OFFICER = "officer"  # field officer: handles the cases dispatched to them
    DISPATCHER = "dispatcher"  # 指挥中心: accepts, dispatches, returns, closes
    SUPERVISOR = "supervisor"  # 督查: as a dispatcher, and is told about late cases
    ADMIN = "admin"  # manages the staff


_ROLE_VALUES = frozenset(role.value for role in Role)
ROLE_NAMES: dict[Role, str] = {
    Role.OFFICER: N_("field officer"),
    Role.DISPATCHER: N_("dispatcher"),
    Role.SUPERVISOR: N_("supervisor"),
    Role.ADMIN: N_("administrator"),
}


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    DUPLICATE = "duplicate"
    RETURN = "return"
    DISPATCH = "dispatch"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    INVITE = "invite"
    MANAGE_STAFF = "manage_staff"
    MANAGE_SPOTS = "manage_spots"
    NOTE = "note"  # an internal note on a case, for staff only
    REPLY = "reply"  # a public reply on a case, told to its followers
    MODERATE = "moderate"  # hide or show a description or photo, block or unblock a person


_DESK = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.ACCEPT: _DESK,
    Action.REJECT: _DESK,
    Action.DUPLICATE: _DESK,
    Action.RETURN: _DESK,
    Action.DISPATCH: _DESK,
    Action.START: _DESK,
    Action.RESOLVE: _DESK,
    Action.CLOSE: _DESK,
    Action.INVITE: frozenset({Role.ADMIN}),
    Action.MANAGE_STAFF: frozenset({Role.ADMIN}),
    Action.MANAGE_SPOTS: frozenset(Role),
    Action.NOTE: _DESK,
    Action.REPLY: _DESK,
    Action.MODERATE: frozenset({Role.SUPERVISOR, Role.ADMIN}),
}
# An officer may do these to a case dispatched to them (and only to such a case).
ASSIGNEE_ACTIONS = frozenset({Action.START, Action.RESOLVE, Action.RETURN, Action.NOTE, Action.REPLY})


# ------------------------------------------------------------------ errors
class StaffError(Exception):
    """A staff operation cannot be done; subclasses say why."""


class NotAllowed(StaffError):
    """The actor may not do this: not staff, the wrong role, or not the officer the case was sent to."""

    def __init__(self, actor_id: int, action: Action, role: Role | None, reason: str) -> None:
        super().__init__(f"user {actor_id} ({role or 'not staff'}) may not {action}: {reason}")
        self.actor_id, self.action, self.role, self.reason = actor_id, action, role, reason


class InviteInvalid(StaffError):
    """The code is unknown, expired or already used (``kind``)."""

    def __init__(self, kind: str, at: datetime | None = None) -> None:
        super().__init__(f"invite {kind}")
        self.kind, self.at = kind, at


class CannotChange(StaffError):
    """The change is not possible: an admin from ADMIN_IDS, or one's own role (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownMember(StaffError):
    """No staff member with that id."""


# ------------------------------------------------------------------ records
@dataclass(frozen=True)
class StaffMember:
    telegram_id: int
    name: str
    role: Role
    districts: tuple[str, ...] = ()
    configured: bool = False  # an admin from ADMIN_IDS: cannot be changed from Telegram


@dataclass(frozen=True)
class Invite:
    code: str
    role: Role
    district: str | None
    created_by: int
    expires_at: datetime


# ------------------------------------------------------------------ reading
async def role_of(source: Reader, telegram_id: int, admin_ids: frozenset[int]) -> Role | None:
    """The person's staff role now (a fresh read, never a cache), or None for everybody else."""
    if telegram_id in admin_ids:
        return Role.ADMIN
    rows = await read_rows(source, "SELECT role FROM users WHERE telegram_id = ?", (telegram_id,))
    if not rows or rows[0]["role"] not in _ROLE_VALUES:
        return None
    return Role(rows[0]["role"])


async def authorize(
    source: Reader,
    actor_id: int,
    action: Action,
    admin_ids: frozenset[int],
    *,
    assignee: int | None = None,
) -> Role:
    """The actor's role if they may do ``action`` now; otherwise logs the attempt and raises NotAllowed.

    ``assignee`` is the officer a case is dispatched to: an officer may start, resolve or return only that case.
    """
    role = await role_of(source, actor_id, admin_ids)
    if role is None:
        reason = "not_staff"
    elif role in PERMISSIONS[action]:
        return role
    elif role is Role.OFFICER and action in ASSIGNEE_ACTIONS and assignee is not None:
        if assignee == actor_id:
            return role
        reason = "not_assignee"
    else:
        reason = "role"
    # Ids and names of actions only: what someone tried to write stays out of the log.
    log.warning("refused: user %s (role %s) tried %s (%s)", actor_id, role or "none", action.value, reason)
    raise NotAllowed(actor_id, action, role, reason)


async def _districts(source: Reader, telegram_id: int) -> tuple[str, ...]:
    rows = await read_rows(
        source, "SELECT district FROM staff_districts WHERE telegram_id = ? ORDER BY district", (telegram_id,)
    )
    return tuple(row["district"] for row in rows)


async def get_member(source: Reader, telegram_id: int, admin_ids: frozenset[int]) -> StaffMember | None:
    role = await role_of(source, telegram_id, admin_ids)
    if role is None:
        return None
    rows = await read_rows(source, "SELECT first_name FROM users WHERE telegram_id = ?", (telegram_id,))
    name = rows[0]["first_name"] if rows and rows[0]["first_name"] else str(telegram_id)
    return StaffMember(telegram_id, name, role, await _districts(source, telegram_id), telegram_id in admin_ids)


async def list_staff(source: Reader, admin_ids: frozenset[int]) -> list[StaffMember]:
    """Everyone with a staff role, the configured admins included; admins first, then by role and name."""
    roles = tuple(role.value for role in Role)
    rows = await read_rows(
        source,
        f"SELECT telegram_id FROM users WHERE role IN ({', '.join('?' for _ in roles)})",
        roles,
    )
    ids = {int(row["telegram_id"]) for row in rows} | set(admin_ids)
    members = [member for member in [await get_member(source, i, admin_ids) for i in ids] if member is not None]
    rank = [Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER, Role.OFFICER]
    return sorted(members, key=lambda m: (rank.index(m.role), m.name, m.telegram_id))


async def officers(source: Reader, district: str | None = None) -> list[StaffMember]:
    """Field officers, those of ``district`` first, then by name."""
    rows = await read_rows(
        source,
        "SELECT telegram_id, first_name FROM users WHERE role = ? ORDER BY first_name, telegram_id",
        (Role.OFFICER.value,),
    )
    found = [
        StaffMember(int(row["telegram_id"]), row["first_name"] or str(row["telegram_id"]), Role.OFFICER) for row in rows
    ]
    found = [StaffMember(m.telegram_id, m.name, m.role, await _districts(source, m.telegram_id)) for m in found]
    return sorted(found, key=lambda m: district is None or district not in m.districts)


# ------------------------------------------------------------------ invites
def is_invite_code(text: str) -> bool:
    """Whether the text has the shape of an invite code (a /start payload may be something else)."""
    return bool(_INVITE_CODE.match(text.strip()))


async def create_invite(
    db: Database,
    creator_id: int,
    role: Role,
    district: str | None,
    now: datetime,
    admin_ids: frozenset[int],
    valid_for: timedelta = INVITE_VALID_FOR,
) -> Invite:
    """A one-time code for joining the staff in ``role`` (and ``district``); only admins may make one."""
    async with db.transaction() as conn:
        await authorize(conn, creator_id, Action.INVITE, admin_ids)
        code = _INVITE_PREFIX + secrets.token_urlsafe(9)
        expires_at = now + valid_for
        await conn.execute(
            "INSERT INTO staff_invites (code, role, district, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (code, role.value, district, creator_id, to_db(now), to_db(expires_at)),
        )
    return Invite(code, role, district, creator_id, expires_at)


async def redeem_invite(
    db: Database,
    code: str,
    telegram_id: int,
    first_name: str,
    now: datetime,
    admin_ids: frozenset[int],
    username: str | None = None,
) -> tuple[StaffMember, Invite]:
    """Joins the staff with a code, once (keeping the @username a grids file may name them by); raises
    InviteInvalid("unknown" / "expired" / "used")."""
    async with db.transaction() as conn:
        rows = await read_rows(conn, "SELECT * FROM staff_invites WHERE code = ?", (code.strip(),))
        if not rows:
            raise InviteInvalid("unknown")
        row = rows[0]
        if row["used_at"] is not None:
            raise InviteInvalid("used", from_db(row["used_at"]))
        expires_at = from_db(row["expires_at"])
        if expires_at <= now:
            raise InviteInvalid("expired", expires_at)
        role = Role(row["role"])
        await conn.execute(
            "UPDATE staff_invites SET used_by = ?, used_at = ? WHERE code = ?", (telegram_id, to_db(now), row["code"])
        )
        await conn.execute(
            """INSERT INTO users (telegram_id, first_name, role, username, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (telegram_id) DO UPDATE SET role = excluded.role, username = excluded.username,
               updated_at = excluded.updated_at""",
            (telegram_id, first_name, role.value, username, to_db(now), to_db(now)),
        )
        if row["district"]:
            await conn.execute(
                "INSERT INTO staff_districts (telegram_id, district) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (telegram_id, row["district"]),
            )
        member = await get_member(conn, telegram_id, admin_ids)
    assert member is not None
    invite = Invite(row["code"], role, row["district"], row["created_by"], expires_at)
    log.info("user %s joined the staff as %s", telegram_id, role.value)
    return member, invite


# ------------------------------------------------------------------ managing
async def _changeable(conn: aiosqlite.Connection, actor_id: int, target_id: int, admin_ids: frozenset[int]) -> None:
    await authorize(conn, actor_id, Action.MANAGE_STAFF, admin_ids)
    if target_id in admin_ids:
        raise CannotChange("configured")
    if target_id == actor_id:
        raise CannotChange("self")
    if await role_of(conn, target_id, admin_ids) is None:
        raise UnknownMember(target_id)


async def set_role(
    db: Database, actor_id: int, target_id: int, role: Role, now: datetime, admin_ids: frozenset[int]
) -> StaffMember:
    """An admin gives a staff member another role."""
    async with db.transaction() as conn:
        await _changeable(conn, actor_id, target_id, admin_ids)
        await conn.execute(
            "UPDATE users SET role = ?, updated_at = ? WHERE telegram_id = ?", (role.value, to_db(now), target_id)
        )
        member = await get_member(conn, target_id, admin_ids)
    assert member is not None
    log.info("user %s set the role of %s to %s", actor_id, target_id, role.value)
    return member


async def remove_member(db: Database, actor_id: int, target_id: int, now: datetime, admin_ids: frozenset[int]) -> None:
    """An admin takes someone off the staff: they are a resident again, without districts."""
    async with db.transaction() as conn:
        await _changeable(conn, actor_id, target_id, admin_ids)
        await conn.execute(
            "UPDATE users SET role = 'resident', updated_at = ? WHERE telegram_id = ?", (to_db(now), target_id)
        )
        await conn.execute("DELETE FROM staff_districts WHERE telegram_id = ?", (target_id,))
    log.info("user %s removed %s from the staff", actor_id, target_id)
