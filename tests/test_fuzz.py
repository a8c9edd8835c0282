"""Property-based fuzzing: whatever arrives at whatever step, the bot never fails.

Each example puts a new person at a step of a journey (the report wizard's steps, the vendor's questions, a
staff member's open question, the follow-up buttons) and sends one generated update: wrong types, missing fields,
4,096 characters, emoji, right-to-left and control characters, SQL, coordinates at the poles and the date line,
NaN-like strings, a hundred photo sizes, edits, channel posts, data no button ever carried. The property: no
error is logged, a message in a private chat gets an answer, a button press gets an answer, and the database
stays sound. Two more properties run at every step: button data of every prefix the bot reads, malformed (digits
that are not ASCII, signs, numbers past SQLite's range, empty, missing or extra parts, 64 bytes of garbage), is
answered as a stale button; text up to and beyond 4,096 characters (multi-byte and astral, in texts, replies and
captions) gets an answer that Telegram accepts. The real Application runs against the emulator on its own event
loop in a thread, so hypothesis drives it from an ordinary test; the example count is bounded (FUZZ_EXAMPLES, 60 by
default, for the first property and a quarter of it for each of the other two: the file runs in under two minutes).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import wire
from devtools.emulator import BotAPIEmulator
from tests.support.driver import Person, TestBed, eventually
from tests.support.report_steps import walk_to
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, card_of, enlist, file_case, next_with, staff_env

T = TypeVar("T")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
STALE = "This button is no longer active. Please start again from the menu."
UNFILED = "Noise"  # a category the examples before never file (they file garbage), for walking the wizard again
WIZARD_STEPS = ("category", "location", "description", "photos", "review")
STEPS = (*WIZARD_STEPS, "menu", "vendor", "staff_question")
GROUP_MINUTE = 65.0  # seconds: Telegram's group window (a minute) and a little more
_ids = itertools.count(700_000)


class BotThread:
    """The emulator and the bot on an event loop of their own, driven from the test's thread."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.emulator = BotAPIEmulator()
        self.bed = TestBed(self.emulator, tmp / "fuzz.sqlite3")

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def start(self) -> None:
        await self.emulator.start()
        self.bed.env = staff_env("en")
        self.bed.group(STAFF_GROUP, "City management staff")
        self.bed.person(ADMIN_ID, "Admin", "en")
        await self.bed.start()

    async def stop(self) -> None:
        await self.bed.stop()
        await self.emulator.stop()


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotThread]:
    harness = BotThread(tmp_path_factory.mktemp("fuzz"))
    harness.run(harness.start())
    yield harness
    harness.run(harness.stop())
    harness.loop.call_soon_threadsafe(harness.loop.stop)
    harness.thread.join(10)


@pytest.fixture(scope="module")
def errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


# ------------------------------------------------------------------ what people might send
# Button data of every prefix the bot reads, made wrong in the ways a forger (or an old client) would.
NOT_A_NUMBER = st.sampled_from(
    ["²", "٣", "１", "-1", "", "+1", "01", " 1", "1e3", "nan", "99999999999999999999999", str(2**63), "0x1f"]
)
PART = st.one_of(
    NOT_A_NUMBER,
    st.integers(0, 2**63 - 1).map(str),
    st.sampled_from(["fixed", "submitted", "accept", "to", "now", "-", "en", "mute", "yes", "garbage", "30.50000"]),
    st.text(max_size=8),
)


def garbage(prefix: str, filler: str) -> str:
    """``prefix:`` and ``filler`` up to Telegram's 64 bytes."""
    return f"{prefix}:" + filler * ((wire.MAX_BYTES - len(prefix) - 1) // len(filler.encode()))


def malformed(prefix: str) -> st.SearchStrategy[str]:
    """Data of ``prefix`` that the bot never makes (no more than 64 bytes, as Telegram carries)."""
    return st.one_of(
        st.builds(lambda parts: ":".join([prefix, *parts]), st.lists(PART, max_size=6)),
        st.builds(garbage, st.just(prefix), st.sampled_from(["٣", "x", "²:", "😀", ":"])),
    ).filter(lambda data: len(data.encode()) <= wire.MAX_BYTES and not wire.well_formed(data))


# One malformed press for every prefix (and one of no prefix the bot knows), for one person at one step.
MALFORMED_PRESSES = st.tuples(
    *(malformed(prefix) for prefix in wire.PREFIXES),
    st.text(min_size=1, max_size=64).filter(lambda data: not wire.well_formed(data)),
)
# Text up to and beyond Telegram's 4,096 (what a client sends is capped, but the bot must not trust it): astral
# characters count twice in UTF-16, which is how Telegram counts.
ASTRAL = st.characters(min_codepoint=0x10000, max_codepoint=0x1FFFF, exclude_categories=["Cs", "Cn"])
OVERSIZED = st.one_of(
    st.sampled_from(["x" * 4097, "字" * 4096, "😀" * 2049, "👨‍👩‍👧‍👦" * 600, "𝒜" * 5000, "<b>" * 1500]),
    st.text(ASTRAL, min_size=2040, max_size=2060),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=4090, max_size=4200),
)


NASTY = st.sampled_from(
    [
        "'; DROP TABLE reports; --",
        "1 OR 1=1",
        '" OR ""="',
        "<b>bold</b> <script>alert(1)</script> & &amp; <",
        "NaN",
        "-Infinity",
        "1e309",
        "‮مرحبا بالعالم‬ שלום",
        "👨‍👩‍👧‍👦🏳️‍🌈" * 50,
        "\x00\x01\x07\x1b[31m\u200b\ufeff",
        "R20261124-0001",
        "/report extra words",
        "/start join-AAAAAAAAAAAA",
        "/spot close 1 999d",
        "🛒 Where can I sell?",
        "❌ Cancel",
        "",
        " " * 30,
        "x" * 4096,
        "字" * 4096,
    ]
)
TEXT = st.one_of(NASTY, st.text(max_size=300), st.text(min_size=4000, max_size=4096))
COORDINATE = st.one_of(
    st.sampled_from([(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (30.48, 114.15), (90.0, -180.0)]),
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
)
CALLBACK_DATA = st.one_of(
    st.text(min_size=1, max_size=64),
    st.sampled_from(
        [
            "rpt:cat:nope",
            "rpt:submit",
            "rpt:same:99999",
            "rpt:dist:../../etc",
            "rpt:edit:everything",
            "case:accept:1:submitted",
            "case:to:1:accepted:1",
            "fu:1:fixed",
            "fu:999999:not_fixed",
            "fs:1:9",
            "fs:abc:5",
            "mine:show:1:0",
            "vres:91:181:-:now:0",
            "vres:nan:nan:-:now:0",
            "vspot:-1",
            "vsub:99999999999999999999",
            "staff:role:1:god",
            "lang:xx",
            "set:maybe",
        ]
    ),
)


def message_bodies() -> st.SearchStrategy[dict[str, Any]]:
    photo = {"file_id": "photo-file-x", "file_unique_id": "ux", "width": 1, "height": 1}
    return st.one_of(
        TEXT.map(lambda text: {"text": text}),
        COORDINATE.map(lambda p: {"location": {"latitude": p[0], "longitude": p[1]}}),
        st.integers(1, 100).map(lambda n: {"photo": [photo] * n, "caption": "x" * 1024}),
        st.just({}),  # no content at all
        st.just(
            {
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            }
        ),
        st.just({"voice": {"file_id": "voice-x", "file_unique_id": "v", "duration": 0}}),
        st.just({"document": {"file_id": "d", "file_unique_id": "d", "file_name": "a.exe"}}),
        st.just({"contact": {"phone_number": "+0", "first_name": "X"}}),
        st.just({"venue": {"location": {"latitude": 91.0, "longitude": 0.0}, "title": "", "address": ""}}),
        st.just({"dice": {"emoji": "🎲", "value": 6}}),
    )


UPDATES = st.one_of(
    st.tuples(st.just("message"), message_bodies()),
    st.tuples(st.just("edited_message"), message_bodies()),
    st.tuples(st.just("channel_post"), message_bodies()),
    st.tuples(st.just("callback_query"), CALLBACK_DATA.map(lambda data: {"data": data})),
    st.tuples(st.just("reply"), TEXT.map(lambda text: {"text": text})),  # an answer to the bot's last question
)


# ------------------------------------------------------------------ putting a person at a step
async def arrive(bed: TestBed, step: str, category: str = "Exposed garbage") -> tuple[Person, dict[str, Any]]:
    """A new person at ``step``; returns them and the bot's last message to them. The wizard files ``category``
    at one place: a category no earlier example filed there meets no "reported nearby" question on the way."""
    person = bed.person(next(_ids), "Fuzz", "en")
    if step in WIZARD_STEPS:
        return person, await walk_to(person, step, category)
    if step == "vendor":
        await person.send("🛒 Where can I sell?")
        choices = await person.expect_message(contains="Where and when may you sell")
        await person.press(choices, "Where can I sell now?")
        return person, await person.expect_message(contains="Please share your location")
    if step == "staff_question":
        await enlist(bed, person, "dispatcher")
        room = person.in_group(bed.emulator.chats[STAFF_GROUP])
        report = await file_case(bed, next(_ids))
        # The staff group takes 20 messages in any minute: earlier examples' cards may hold this one back a minute.
        card = await card_of(room, report, GROUP_MINUTE)
        await room.press(card, "Reject")
        question = await next_with(room, "why is case", GROUP_MINUTE)
        # The question (a reply) may overtake the card's pin (staff news): let the pin land before the next update.
        await eventually(lambda: no_pending_pushes(bed, STAFF_GROUP), GROUP_MINUTE)
        return room, question
    await person.send("/start")
    return person, await person.expect_message(contains="Hello")


async def no_pending_pushes(bed: TestBed, chat_id: int) -> bool:
    row = await bed.db.fetchone("SELECT 1 FROM outbox WHERE chat_id = ? AND state = 'pending'", (chat_id,))
    return row is None


async def send(person: Person, kind: str, body: dict[str, Any], last: dict[str, Any]) -> str | None:
    """Sends the update; returns the callback query id when it is a button press."""
    if kind == "callback_query":
        return await person.press_data(last, body["data"])
    message = {
        "message_id": person.emulator.new_message_id(person.chat.id),
        "date": int(time.time()),
        "chat": person.chat.as_dict(),
        "from": person.user,
        **body,
    }
    if kind == "reply":
        message["reply_to_message"] = last
        kind = "message"
    if kind == "channel_post":
        message["chat"] = {"id": -100999, "type": "channel", "title": "News"}
        message.pop("from")
    if kind == "edited_message":
        message["edit_date"] = int(time.time())
    person.emulator.store_message(message)
    await person.emulator.push_update({kind: message})
    return None


def inbox_size(bot: BotThread, person: Person) -> int:
    """Messages in the person's chat so far: counted before sending, so a quick answer is not counted as old."""
    return len(bot.emulator.inbox.get(person.chat.id, []))


async def outcome(bot: BotThread, person: Person, before: int, query: str | None, patience: float = 2.5) -> str:
    """What the person got: "answer" (a press answered), "reply" (a message beyond ``before`` within ``patience``
    seconds), or "silence"."""
    emulator = bot.emulator
    if query is not None:
        await emulator.wait_for(lambda: query in emulator.callback_answers, 8)
        return "answer"
    try:
        await emulator.wait_for(lambda: len(emulator.inbox.get(person.chat.id, [])) > before, patience)
    except TimeoutError:
        return "silence"
    return "reply"


def fuzz_settings(share: float) -> settings:
    """``share`` of the FUZZ_EXAMPLES budget, spread over the steps (at least 2 each)."""
    return settings(
        max_examples=max(2, round(EXAMPLES * share / len(STEPS))),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
        derandomize=True,
    )


@pytest.mark.parametrize("step", STEPS)
def test_any_update_at_any_step_is_answered_or_deliberately_ignored(
    bot: BotThread, errors: ErrorRecords, step: str
) -> None:
    @settings(
        max_examples=max(3, EXAMPLES // len(STEPS)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=True,
    )
    @given(update=UPDATES)
    def property_holds(update: tuple[str, dict[str, Any]]) -> None:
        kind, body = update
        errors.records.clear()
        person, last = bot.run(arrive(bot.bed, step))
        person.read_all()
        before = inbox_size(bot, person)
        query = bot.run(send(person, kind, body, last))
        # An answer may wait its turn in the chat (a burst of 3, then one a second); silence needs less patience.
        expects_answer = kind in ("message", "reply") and person.chat.type == "private" and bool(body)
        result = bot.run(outcome(bot, person, before, query, 8.0 if expects_answer else 2.5))
        assert not errors.records, [r.getMessage() for r in errors.records]
        if expects_answer:
            assert result == "reply", f"no answer to {body!r} at {step}"
        if kind in ("channel_post", "edited_message"):
            assert result == "silence"

    property_holds()
    assert bot.run(bot.bed.db.integrity_check()) == "ok"


@pytest.mark.parametrize("step", STEPS)
def test_malformed_button_data_of_every_prefix_at_any_step_is_answered_as_stale(
    bot: BotThread, errors: ErrorRecords, step: str
) -> None:
    @fuzz_settings(share=0.25)
    @given(presses=MALFORMED_PRESSES)
    def property_holds(presses: tuple[str, ...]) -> None:
        errors.records.clear()
        person, last = bot.run(arrive(bot.bed, step, UNFILED))
        person.read_all()
        for data in presses:  # a refused press changes nothing, so the person is still at the step
            query = bot.run(send(person, "callback_query", {"data": data}, last))
            assert bot.run(outcome(bot, person, 0, query)) == "answer"
            assert bot.emulator.callback_answers[query]["text"] == STALE, data
            time.sleep(0.05)  # about the pace of a person: flood control refuses more than 20 at once
        assert not errors.records, [r.getMessage() for r in errors.records]

    property_holds()
    assert bot.run(bot.bed.db.integrity_check()) == "ok"


@pytest.mark.parametrize("step", STEPS)
def test_oversized_text_at_any_step_gets_an_answer_telegram_accepts(
    bot: BotThread, errors: ErrorRecords, step: str
) -> None:
    photo = {"file_id": "photo-file-x", "file_unique_id": "ux", "width": 1, "height": 1}

    @fuzz_settings(share=0.25)
    @given(text=OVERSIZED)
    def property_holds(text: str) -> None:
        ways: list[tuple[str, dict[str, Any]]] = [
            ("reply", {"text": text}),  # an answer to the bot's last question
            ("message", {"text": text}),
            ("message", {"photo": [photo], "caption": text}),
        ]
        # In the staff group only an answer to the bot's question is for the bot; the rest is the staff's talk.
        for kind, body in ways[:1] if step == "staff_question" else ways:
            errors.records.clear()
            person, last = bot.run(arrive(bot.bed, step, UNFILED))
            person.read_all()
            before = inbox_size(bot, person)
            bot.run(send(person, kind, body, last))
            # The staff group is paced at 20 messages a minute, behind the cards earlier examples filed.
            patience = GROUP_MINUTE if step == "staff_question" else 8.0
            result = bot.run(outcome(bot, person, before, None, patience))
            assert not errors.records, [r.getMessage() for r in errors.records]  # "message is too long" is one
            assert result == "reply", f"no answer to {len(text)} characters ({kind}, {list(body)}) at {step}"

    property_holds()
    assert bot.run(bot.bed.db.integrity_check()) == "ok"
