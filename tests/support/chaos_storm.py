"""The crash chaos storm and its invariant, shared by the one-process (SQLite) and two-instance (PostgreSQL) tests.

:func:`play` sets 140 reporters, 40 vendors and a dispatcher loose on the bot while a chaos monkey given by the
test kills and restarts it; :func:`check_invariants` then holds the database and what people saw to the invariant
told in tests/test_chaos.py.
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cases.states import CATEGORIES
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.geo import load_service_area
from devtools.emulator import BotAPIEmulator
from tests.support.chaos import CaseAction, Dispatcher, Journal, Reporter, Vendor, random_point
from tests.support.driver import Person, eventually, text_of

REPORTERS, VENDORS, STAFF_ACTIONS = 140, 40, 20  # 200 conversations
AT_ONCE = 40  # people in the middle of a conversation at the same time
DESK = 8800  # the dispatcher; the staff desk is their private chat (see tests/test_chaos.py)
TIME_LIMIT = 150.0

Monkey = Callable[[asyncio.Event], Coroutine[Any, Any, None]]  # kills and restarts until the event is set


@dataclass
class Played:
    """What the storm left: every journal, the dispatcher's confirmed actions, how long the conversations took."""

    journals: list[Journal]
    accepted: list[CaseAction]
    seconds: float


def person_in(emulator: BotAPIEmulator, user_id: int, name: str) -> Person:
    user = emulator.add_user(user_id, name, "en")
    return Person(emulator, user, emulator.chats[user_id])


async def all_answered(desk: Dispatcher) -> bool:
    return len(desk.actions) >= desk.wanted and all(action.answer for action in desk.actions.values())


async def play(
    emulator: BotAPIEmulator, rng: random.Random, monkey: Monkey, record: Path, desk_wait: float = 30.0
) -> Played:
    """Runs 200 conversations and the desk's accepts while ``monkey`` kills the bot; writes every person's
    history to ``record`` (for reading a failed run). ``desk_wait``: the least time the desk has after the
    conversations to see its cards, which reach it at one private chat's pace."""
    started = time.monotonic()
    deadline = started + TIME_LIMIT
    area = load_service_area()
    codes = [category.code for category in CATEGORIES]
    actors: list[Reporter | Vendor] = []
    for n in range(REPORTERS):
        person = person_in(emulator, 10_000 + n, f"Resident {n}")
        point = random_point(area, rng)
        actors.append(Reporter(person, random.Random(rng.random()), deadline, rng.choice(codes), point))
    for n in range(VENDORS):
        person = person_in(emulator, 20_000 + n, f"Vendor {n}")
        actors.append(Vendor(person, random.Random(rng.random()), deadline, random_point(area, rng)))
    rng.shuffle(actors)
    desk = Dispatcher(person_in(emulator, DESK, "Desk"), random.Random(rng.random()), STAFF_ACTIONS, share=0.7)
    gate = asyncio.Semaphore(AT_ONCE)

    async def converse(actor: Reporter | Vendor) -> Journal:
        async with gate:
            await asyncio.sleep(actor.rng.uniform(0, 0.5))
            return await actor.run()

    done = asyncio.Event()
    killing = asyncio.create_task(monkey(done))
    dispatching = asyncio.create_task(desk.run(done))
    try:
        journals = await asyncio.gather(*(converse(actor) for actor in actors))
        unfinished = [actor for actor in actors if not actor.journal.finished]
        assert not unfinished, f"{len(unfinished)} conversations did not finish: " + "; ".join(
            f"{a.journal} last saw {[text_of(m)[:60] for m in a.person.emulator.inbox.get(a.person.id, [])[-3:]]}"
            for a in unfinished[:5]
        )
        # The cards reach the desk behind the residents' answers (one pace for all); the desk works on meanwhile.
        try:
            await eventually(lambda: all_answered(desk), timeout=max(desk_wait, deadline - time.monotonic()))
        except AssertionError as late:
            answered = sum(1 for action in desk.actions.values() if action.answer)
            raise AssertionError(
                f"the desk saw {desk.cards_seen} cards, pressed on {len(desk.actions)}, got {answered} answers"
            ) from late
        print(f"desk saw {desk.cards_seen} cards, acted on {len(desk.actions)}")
        done.set()
        await killing
        accepted = await dispatching
    finally:
        done.set()
        with record.open("w") as out:
            for actor in actors:
                out.write(f"== {actor.journal.name} {actor.person.id}\n" + "\n".join(actor.journal.history) + "\n")
    return Played(list(journals), accepted, time.monotonic() - started)


async def settled(db: Database) -> bool:
    """Nothing due is left: no reminder due by now is pending, no queued message waits."""
    due = await db.fetchone(
        "SELECT COUNT(*) FROM reminders WHERE state = 'pending' AND due_at <= ?", (to_db(datetime.now(UTC)),)
    )
    waiting = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
    return due is not None and waiting is not None and due[0] == 0 and waiting[0] == 0


async def settle(db: Database, per_message: float = 1.1) -> None:
    """Waits until every due reminder fired and every queued message is out. The desk is one private chat, which
    takes about a message a second after a burst: ``per_message`` seconds for each of its queued messages."""
    queued = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND chat_id = ?", (DESK,))
    await eventually(lambda: settled(db), timeout=30 + per_message * (queued[0] if queued else 0))


async def check_invariants(db: Database, played: Played, emulator: BotAPIEmulator, kills: int) -> dict[str, int]:
    """The invariant of tests/test_chaos.py's docstring, checked against the database and what people saw."""
    journals = played.journals
    # Reports: told numbers and stored rows are the same set, one per reporter, holding the reporter's answers.
    rows = await db.fetchall("SELECT public_no, reporter_id, description FROM reports")
    by_number = {row["public_no"]: row for row in rows}
    doubled = {user: n for user, n in Counter(row["reporter_id"] for row in rows).items() if n > 1}
    assert not doubled, f"people with more than one report: {doubled}"
    told: dict[str, int] = {}
    for journal in journals:
        if journal.name == "Reporter":
            assert len(set(journal.told)) == 1, journal  # told one number, however often
            told[journal.told[0]] = journal.user_id
    for number, user_id in told.items():
        assert number in by_number, f"{number} was told to {user_id} but is not in the database"
        assert by_number[number]["reporter_id"] == user_id
        assert by_number[number]["description"].startswith(f"Chaos report {user_id}:")
    assert set(by_number) == set(told), f"reports nobody was told about: {sorted(set(by_number) - set(told))}"

    # Staff: what the dispatcher was told happened, happened once.
    for action in played.accepted:
        assert "is now “accepted”" in action.answer or "already “accepted”" in action.answer, action
        row = await db.fetchone(
            "SELECT COUNT(*) FROM report_events e JOIN reports r ON r.id = e.report_id "
            "WHERE r.public_no = ? AND e.to_state = 'accepted'",
            (action.number,),
        )
        assert row is not None and row[0] == 1, action

    # Reminders: each one due fired once in the database (one queued message at most, by its dedupe key).
    due = await db.fetchall("SELECT state FROM reminders WHERE due_at <= ?", (to_db(datetime.now(UTC)),))
    states = Counter(row["state"] for row in due)
    assert set(states) <= {"done", "cancelled", "coalesced", "expired"}, states
    outbox = await db.fetchall("SELECT chat_id, params, state, dedupe_key FROM outbox")
    assert {row["state"] for row in outbox} <= {"sent"}
    keys = Counter(row["dedupe_key"] for row in outbox if row["dedupe_key"])
    assert all(n == 1 for n in keys.values())
    # At the Telegram edge a pushed message is sent again only if a kill fell between sending and marking it sent.
    queued = Counter(
        (row["chat_id"], plain(json.loads(row["params"])["text"]))
        for row in outbox
        if (row["dedupe_key"] or "").startswith("reminder:")
    )
    delivered = Counter((chat, text_of(m)) for chat, messages in emulator.inbox.items() for m in messages)
    edge_repeats = sum(max(0, delivered[key] - n) for key, n in queued.items())
    assert edge_repeats <= kills, (edge_repeats, kills)
    return {
        "reports": len(rows),
        "reminders_fired": states["done"],
        "reminder_messages": sum(queued.values()),
        "edge_repeats": edge_repeats,
        "repeats": sum(j.repeats for j in journals),
        "drafts_offered": sum(j.drafts_offered for j in journals),
        "nudged": sum(j.nudged for j in journals),
        "apologies": sum(j.apologies for j in journals),
    }


def plain(text: str) -> str:
    """A message's text as the recipient sees it (tags gone, entities unescaped)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))
