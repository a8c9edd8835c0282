"""The staff core without Telegram: who may do what, invite codes, managing colleagues, closure times."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.people import staff
from bot.people.staff import Action, CannotChange, InviteInvalid, NotAllowed, Role
from bot.platform.clock import to_db
from bot.platform.dates import DateOutOfRange
from bot.platform.db import Database
from bot.vending import staff_actions

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in the city
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMINS = frozenset({1})


async def person(db: Database, telegram_id: int, role: str = "resident", name: str = "Someone") -> None:
    await db.execute(
        "INSERT INTO users (telegram_id, first_name, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (telegram_id, name, role, to_db(NOW), to_db(NOW)),
    )


@pytest.mark.parametrize(
    ("role", "action", "assignee", "allowed"),
    [
        ("dispatcher", Action.ACCEPT, None, True),
        ("supervisor", Action.CLOSE, None, True),
        ("admin", Action.DISPATCH, None, True),
        ("officer", Action.ACCEPT, None, False),
        ("officer", Action.DISPATCH, None, False),
        ("officer", Action.RESOLVE, 10, True),  # the case was sent to this officer
        ("officer", Action.START, 10, True),
        ("officer", Action.RETURN, 10, True),
        ("officer", Action.RESOLVE, 99, False),  # someone else's case
        ("officer", Action.RESOLVE, None, False),  # not dispatched to anyone
        ("officer", Action.CLOSE, 10, False),
        ("dispatcher", Action.INVITE, None, False),
        ("supervisor", Action.MANAGE_STAFF, None, False),
        ("officer", Action.MANAGE_SPOTS, None, True),
        ("resident", Action.ACCEPT, None, False),
        ("vendor", Action.MANAGE_SPOTS, None, False),
    ],
)
async def test_who_may_do_what(db: Database, role: str, action: Action, assignee: int | None, allowed: bool) -> None:
    await person(db, 10, role)
    if allowed:
        assert await staff.authorize(db, 10, action, ADMINS, assignee=assignee) == Role(role)
    else:
        with pytest.raises(NotAllowed):
            await staff.authorize(db, 10, action, ADMINS, assignee=assignee)


async def test_configured_admins_are_admins_whatever_the_table_says(db: Database) -> None:
    await person(db, 1, "resident")
    assert await staff.role_of(db, 1, ADMINS) is Role.ADMIN
    assert await staff.role_of(db, 404, ADMINS) is None  # never wrote to the bot: not staff


async def test_refusals_are_logged_without_personal_text(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    await person(db, 10, "officer", name="Secret Name")
    with caplog.at_level(logging.WARNING, logger="bot.people.staff"), pytest.raises(NotAllowed) as refused:
        await staff.authorize(db, 10, Action.ACCEPT, ADMINS)
    assert refused.value.reason == "role"
    assert "user 10" in caplog.text and "accept" in caplog.text and "Secret Name" not in caplog.text


async def test_an_invite_joins_once_with_its_role_and_district(db: Database) -> None:
    invite = await staff.create_invite(db, 1, Role.OFFICER, "wuhan-edz", NOW, ADMINS)
    assert staff.is_invite_code(invite.code) and invite.expires_at == NOW + staff.INVITE_VALID_FOR
    member, used = await staff.redeem_invite(db, invite.code, 20, "Li", NOW + timedelta(hours=1), ADMINS)
    assert (member.role, member.districts, member.name, used.created_by) == (Role.OFFICER, ("wuhan-edz",), "Li", 1)
    with pytest.raises(InviteInvalid) as again:
        await staff.redeem_invite(db, invite.code, 21, "Eve", NOW + timedelta(hours=2), ADMINS)
    assert again.value.kind == "used"
    assert await staff.role_of(db, 21, ADMINS) is None


@pytest.mark.parametrize(
    ("code", "after", "kind"),
    [("real", timedelta(days=2), "expired"), ("join-nonexistent0", timedelta(0), "unknown")],
)
async def test_bad_invites(db: Database, code: str, after: timedelta, kind: str) -> None:
    invite = await staff.create_invite(db, 1, Role.DISPATCHER, None, NOW, ADMINS)
    with pytest.raises(InviteInvalid) as bad:
        await staff.redeem_invite(db, invite.code if code == "real" else code, 20, "Li", NOW + after, ADMINS)
    assert bad.value.kind == kind
    row = await db.fetchone("SELECT used_by FROM staff_invites")
    assert row["used_by"] is None


async def test_only_admins_make_invites(db: Database) -> None:
    await person(db, 10, "supervisor")
    with pytest.raises(NotAllowed):
        await staff.create_invite(db, 10, Role.OFFICER, None, NOW, ADMINS)
    assert await db.fetchone("SELECT 1 FROM staff_invites") is None


async def test_admins_change_roles_and_remove_but_not_themselves_or_configured_admins(db: Database) -> None:
    await person(db, 1, "resident", "Boss")
    await person(db, 2, "admin", "Deputy")
    await person(db, 10, "officer", "Li")
    await db.execute("INSERT INTO staff_districts (telegram_id, district) VALUES (10, 'wuhan-edz')")
    assert (await staff.set_role(db, 2, 10, Role.SUPERVISOR, NOW, ADMINS)).role is Role.SUPERVISOR
    for target, reason in ((1, "configured"), (2, "self")):
        with pytest.raises(CannotChange) as refused:
            await staff.set_role(db, 2, target, Role.OFFICER, NOW, ADMINS)
        assert refused.value.reason == reason
    await staff.remove_member(db, 2, 10, NOW, ADMINS)
    assert await staff.role_of(db, 10, ADMINS) is None
    assert await db.fetchone("SELECT 1 FROM staff_districts") is None
    with pytest.raises(staff.UnknownMember):
        await staff.remove_member(db, 2, 10, NOW, ADMINS)
    members = await staff.list_staff(db, ADMINS)
    assert [(m.name, m.role, m.configured) for m in members] == [
        ("Boss", Role.ADMIN, True),
        ("Deputy", Role.ADMIN, False),
    ]


async def test_officers_of_the_district_come_first(db: Database) -> None:
    await person(db, 10, "officer", "An")
    await person(db, 11, "officer", "Bo")
    await person(db, 12, "dispatcher", "Cy")
    await db.execute("INSERT INTO staff_districts (telegram_id, district) VALUES (11, 'zz-huiji')")
    assert [m.name for m in await staff.officers(db, "zz-huiji")] == ["Bo", "An"]
    assert [m.name for m in await staff.officers(db)] == ["An", "Bo"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3h", NOW + timedelta(hours=3)),
        ("90m", NOW + timedelta(minutes=90)),
        ("2d", NOW + timedelta(days=2)),
        ("18:00", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),  # today 18:00 in the city
        ("08:00", datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),  # already past today: tomorrow
        ("2026-12-01", datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),  # through that day
        ("2026-12-01T08:30", datetime(2026, 12, 1, 0, 30, tzinfo=UTC)),
        ("roadworks", None),
        ("2026-13-45", None),
        ("25:00", None),
        ("２０２６-12-01", None),  # digits other than ASCII are text, not a date
        ("3²h", None),
    ],
)
def test_closure_times_as_staff_type_them(text: str, expected: datetime | None) -> None:
    assert staff_actions.parse_until(text, NOW, SHANGHAI) == expected


@pytest.mark.parametrize("text", ["9999-12-31", "9999-12-31T23:59", "0001-01-01", "0001-01-01T00:00", "2101-01-01"])
def test_closure_dates_out_of_range_are_refused_before_any_arithmetic(text: str) -> None:
    with pytest.raises(DateOutOfRange):
        staff_actions.parse_until(text, NOW, SHANGHAI)
