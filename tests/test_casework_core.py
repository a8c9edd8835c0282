"""The case workflow core without Telegram: button data, the card, authorised moves, residents' news, live cards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.cases import card, moves, service, states
from bot.cases.card import SPOTS_SHOWN, ButtonPress
from bot.cases.config import Desk, ReportPolicy
from bot.cases.drafts import Draft
from bot.cases.states import Report, ReportState, StateChanged
from bot.people.staff import Action, NotAllowed
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.geo import load_service_area
from bot.platform.i18n import get_lang
from bot.platform.worktime import WorkCalendar
from bot.vending import search

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in the city
SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = -100900
ADMIN, DISPATCHER, OFFICER, RESIDENT, FOLLOWER = 1, 2, 3, 100, 101
AREA = load_service_area()
DESK = Desk(GROUP, get_lang("en", SHANGHAI), AREA, frozenset({ADMIN}), "en")
POLICY = ReportPolicy(calendar=WorkCalendar(SHANGHAI), staff_chat_id=GROUP, staff_lang=DESK.staff_lang, area=AREA)


@pytest.fixture
async def office(db: Database) -> Database:
    for telegram_id, name, role, language in (
        (DISPATCHER, "Dana", "dispatcher", None),
        (OFFICER, "Li", "officer", None),
        (RESIDENT, "王芳", "resident", "zh_Hans"),
        (FOLLOWER, "Alice", "resident", "en"),
    ):
        await db.execute(
            "INSERT INTO users (telegram_id, first_name, role, language, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (telegram_id, name, role, language, to_db(NOW), to_db(NOW)),
        )
    return db


async def file(db: Database, **changes: object) -> Report:
    values: dict[str, object] = {
        "category": "garbage",
        "lat": 30.48,
        "lon": 114.15,
        "district": "wuhan-edz",
        "description": "Garbage bags piled at the bus stop",
        "photos": ["p1", "p2"],
        "voice_file_id": "v1",
        **changes,
    }
    return await service.submit(db, RESIDENT, Draft(**values), NOW, POLICY)  # type: ignore[arg-type]


async def outbox(db: Database, ref_like: str = "%") -> list[tuple[int, str, dict[str, object]]]:
    rows = await db.fetchall("SELECT chat_id, method, params FROM outbox WHERE ref LIKE ? ORDER BY id", (ref_like,))
    return [(row["chat_id"], row["method"], json.loads(row["params"])) for row in rows]


@pytest.mark.parametrize(
    ("data", "press"),
    [
        ("case:accept:7:submitted", ButtonPress("accept", 7, ReportState.SUBMITTED)),
        ("case:to:7:accepted:12345", ButtonPress("to", 7, ReportState.ACCEPTED, 12345)),
        ("case:back:7:reopened", ButtonPress("back", 7, ReportState.REOPENED)),
        ("case:accept:7", None),
        ("case:accept:7:submitted:1", None),
        ("case:to:7:accepted", None),
        ("case:launch:7:submitted", None),
        ("case:accept:-7:submitted", None),
        ("case:accept:7:sideways", None),
        ("rpt:accept:7:submitted", None),
        ("", None),
        (None, None),
    ],
)
def test_button_data_is_read_back_or_refused(data: str | None, press: ButtonPress | None) -> None:
    assert card.parse_button(data) == press


def test_the_longest_button_data_fits_telegrams_limit() -> None:
    data = card.button_data("to", 10**12, ReportState.IN_PROGRESS, 10**13)
    assert len(data.encode()) <= 64


async def test_a_new_case_is_queued_as_card_pin_album_and_voice(office: Database) -> None:
    report = await file(office)
    rows = await outbox(office)
    assert [(chat, method) for chat, method, _ in rows] == [
        (GROUP, "sendMessage"),
        (GROUP, "sendVenue"),
        (GROUP, "sendMediaGroup"),
        (GROUP, "sendVoice"),
    ]
    card = rows[0][2]
    assert "🆕 New report <b>R20261123-0001</b>" in card["text"] and "Reporter: anonymous" in card["text"]
    assert "王芳" not in card["text"] and str(RESIDENT) not in card["text"]
    moves, desk = card["reply_markup"]["inline_keyboard"][:-1], card["reply_markup"]["inline_keyboard"][-1]
    assert [b["callback_data"] for row in moves for b in row] == [
        f"case:{a}:{report.id}:submitted" for a in ("accept", "reject", "duplicate", "return")
    ]
    assert [b["callback_data"] for b in desk] == [
        f"note:note:{report.id}",
        f"note:reply:{report.id}",
        f"mod:menu:{report.id}",
    ]
    assert [item["media"] for item in rows[2][2]["media"]] == ["p1", "p2"]
    assert rows[3][2]["voice"] == "v1"
    ref = await office.fetchone("SELECT ref FROM outbox ORDER BY id LIMIT 1")
    assert ref["ref"] == f"report_card:{report.id}"


async def test_a_named_reporter_is_shown_by_first_name_only(office: Database) -> None:
    await file(office, show_name=True, photos=[], voice_file_id=None)
    card = (await outbox(office, "report_card:%"))[0][2]
    assert "Reporter: 王芳" in str(card["text"])


async def test_accepting_tells_every_follower_in_their_language_and_updates_the_waiting_card(office: Database) -> None:
    report = await file(office)
    await office.execute(
        "INSERT INTO report_followers (report_id, telegram_id, created_at) VALUES (?, ?, ?)",
        (report.id, FOLLOWER, to_db(NOW)),
    )
    outcome = await service.move(office, DISPATCHER, Action.ACCEPT, report.id, ReportState.SUBMITTED, NOW, DESK)
    assert outcome.report.state is ReportState.ACCEPTED and outcome.residents_told == 2
    news = {chat: params["text"] for chat, _, params in await outbox(office, "case_news:%")}
    assert "已经立案" in str(news[RESIDENT]) and "has been accepted as a case" in str(news[FOLLOWER])
    card = (await outbox(office, "report_card:%"))[0][2]  # not sent yet: rewritten where it waits
    assert "State: <b>accepted</b>" in str(card["text"]) and "accepted — Dana" in str(card["text"])


async def test_a_move_made_for_an_old_state_is_refused_and_writes_nothing(office: Database) -> None:
    report = await file(office)
    await service.move(office, DISPATCHER, Action.ACCEPT, report.id, ReportState.SUBMITTED, NOW, DESK)
    before = await outbox(office)
    with pytest.raises(StateChanged):
        await service.move(office, ADMIN, Action.REJECT, report.id, ReportState.SUBMITTED, NOW, DESK, note="No")
    assert await outbox(office) == before
    events = await office.fetchall("SELECT to_state FROM report_events WHERE report_id = ?", (report.id,))
    assert [row["to_state"] for row in events] == ["submitted", "accepted"]


@pytest.mark.parametrize(
    ("action", "kwargs", "error"),
    [
        (Action.REJECT, {"note": " "}, moves.NoteInvalid),
        (Action.RETURN, {"note": "x" * 501}, moves.NoteInvalid),
        (Action.DUPLICATE, {"original_no": "R20990101-0001"}, moves.UnknownCase),
        (Action.DUPLICATE, {"original_no": "hello"}, moves.UnknownCase),
        (Action.DUPLICATE, {"original_no": "R20261123-0002"}, moves.SameCase),
        (Action.ACCEPT, {"actor": OFFICER}, NotAllowed),
        (Action.ACCEPT, {"actor": RESIDENT}, NotAllowed),
    ],
)
async def test_bad_moves_are_refused_before_anything_is_written(
    office: Database, action: Action, kwargs: dict[str, object], error: type[Exception]
) -> None:
    await file(office)
    report = await file(office)  # R20261123-0002
    actor = int(kwargs.pop("actor", DISPATCHER))  # type: ignore[call-overload]
    with pytest.raises(error):
        await service.move(office, actor, action, report.id, ReportState.SUBMITTED, NOW, DESK, **kwargs)  # type: ignore[arg-type]
    assert (await states.get_report(office, report.id)).state is ReportState.SUBMITTED
    assert await office.fetchone("SELECT 1 FROM outbox WHERE ref LIKE 'case_news:%'") is None


async def test_dispatch_needs_an_officer_and_sends_them_the_case(office: Database) -> None:
    report = await file(office)
    await service.move(office, DISPATCHER, Action.ACCEPT, report.id, ReportState.SUBMITTED, NOW, DESK)
    with pytest.raises(moves.NotAnOfficer):
        await service.move(
            office, DISPATCHER, Action.DISPATCH, report.id, ReportState.ACCEPTED, NOW, DESK, officer_id=FOLLOWER
        )
    await service.move(
        office, DISPATCHER, Action.DISPATCH, report.id, ReportState.ACCEPTED, NOW, DESK, officer_id=OFFICER
    )
    to_officer = [(method, params) for chat, method, params in await outbox(office) if chat == OFFICER]
    assert [method for method, _ in to_officer] == ["sendMessage", "sendVenue", "sendMediaGroup", "sendVoice"]
    card = to_officer[0][1]
    assert "has been sent to you" in str(card["text"])
    keyboard = card["reply_markup"]["inline_keyboard"]  # type: ignore[index]
    assert [b["text"] for row in keyboard[:-1] for b in row] == ["▶️ Start", "🛠 Resolve", "↪️ Return"]
    # The officer's own copy offers notes and replies, but moderation is the group's (supervisors').
    assert [b["text"] for b in keyboard[-1]] == ["📝 Internal note", "💬 Public reply"]


async def test_resolving_with_an_after_photo_shows_it_to_residents_and_staff(office: Database) -> None:
    report = await file(office, photos=[], voice_file_id=None)
    await service.move(office, DISPATCHER, Action.ACCEPT, report.id, ReportState.SUBMITTED, NOW, DESK)
    await service.move(
        office, ADMIN, Action.RESOLVE, report.id, ReportState.ACCEPTED, NOW, DESK, note="Cleared", photo_file_id="a1"
    )
    news = [(chat, method, params) for chat, method, params in await outbox(office, "case_news:%")]
    assert news[-1][0] == RESIDENT and news[-1][1] == "sendPhoto"
    assert news[-1][2]["photo"] == "a1" and "Cleared" in str(news[-1][2]["caption"])
    staff_photo = await outbox(office, "report_media:%")
    assert staff_photo[-1][:2] == (GROUP, "sendPhoto")
    row = await office.fetchone("SELECT kind, event_id FROM report_photos WHERE file_id = 'a1'")
    assert row["kind"] == "after" and row["event_id"] is not None


async def test_a_move_made_elsewhere_refreshes_the_sent_card(office: Database) -> None:
    report = await file(office, photos=[], voice_file_id=None)
    await office.execute(
        "UPDATE outbox SET state = 'sent', result_message_id = 77 WHERE ref = ?", (f"report_card:{report.id}",)
    )
    await service.withdraw(office, report.id, RESIDENT, NOW, POLICY)
    edits = await outbox(office, f"report_card:{report.id}:edit")
    assert len(edits) == 1
    chat, method, params = edits[0]
    assert (chat, method, params["message_id"]) == (GROUP, "editMessageText", 77)
    assert "State: <b>withdrawn</b>" in str(params["text"])
    # No moves are left on a closed case; only the desk row (notes, replies, moderation) stays.
    assert [[b["callback_data"] for b in row] for row in params["reply_markup"]["inline_keyboard"]] == [
        [f"note:note:{report.id}", f"note:reply:{report.id}", f"mod:menu:{report.id}"]
    ]
    # The resident's withdrawal notice for staff replies to the card.
    notice = await outbox(office, f"report_withdrawn:{report.id}")
    assert notice[0][2]["reply_parameters"] == {"message_id": 77, "allow_sending_without_reply": True}


async def test_a_stall_case_lists_legal_spots(office: Database) -> None:
    from bot.vending.spot_import import ensure_sample_spots

    await ensure_sample_spots(office, NOW)
    await file(office, category="stall", photos=[], voice_file_id=None)
    card = str((await outbox(office, "report_card:%"))[0][2]["text"])
    nearest = await search.nearest_open_spots(office, 30.48, 114.15, NOW, SHANGHAI, limit=SPOTS_SHOWN)
    assert nearest.spots, "the sample city has spots near the sample report"
    assert "🛒 Legal vending spots to offer the vendor:" in card
    for offer in nearest.spots:
        assert f"• {offer.spot.title('en')}, " in card
