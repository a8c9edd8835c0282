"""Chaos tooling: the bot as a real process that is killed and restarted, and people who react like people.

:class:`BotProcess` runs ``python -m bot`` against the emulator of the test process. The scripted people
(:class:`Reporter`, :class:`Vendor`, :class:`Dispatcher`) do not follow a fixed list of steps: each reads what the
bot last said and answers that, presses "Continue" when offered an unfinished draft, and does the last thing again
when nothing comes back for a while — which is what someone does while the bot is being restarted.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.platform.geo import ServiceArea
from devtools.emulator import BotAPIEmulator
from tests.support.driver import Person, inline_buttons, text_of

ROOT = Path(__file__).resolve().parents[2]
REPORT_NUMBER = re.compile(r"R\d{8}-\d{4}")


def process_env(emulator: BotAPIEmulator, database: Path, **settings: str) -> dict[str, str]:
    """A clean environment for ``python -m bot``: nothing from the developer's shell or .env leaks in."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(
        BOT_TOKEN=emulator.token,
        BOT_API_BASE_URL=emulator.base_url,
        BOT_API_FILE_URL=emulator.file_url,
        DATABASE_PATH=str(database),
    )
    env.update(settings)
    return env


class BotProcess:
    """``python -m bot`` as a child process; each start logs to its own file in ``workdir``."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0
        self.started_at = 0.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self.starts += 1
        log = (self.workdir / f"bot-{self.starts}.log").open("wb")
        self.started_at = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self.workdir, env=self.env, stdout=log, stderr=log
        )
        log.close()  # the child holds its own descriptor

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills += 1

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager stops the bot; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.workdir.glob("bot-*.log"), key=_log_number)
        )


def _log_number(path: Path) -> int:
    return int(path.stem.split("-")[1])


def random_point(area: ServiceArea, rng: random.Random, district: str = "wuhan-edz") -> tuple[float, float]:
    """A random place inside one district of the service area."""
    while True:
        lat, lon = round(rng.uniform(30.40, 30.56), 5), round(rng.uniform(114.02, 114.25), 5)
        found = area.district_at(lat, lon)
        if found is not None and found.code == district:
            return lat, lon


# ------------------------------------------------------------------ people
@dataclass
class Act:
    """One thing a person does: type a text, share a location, or press a button's data on a message."""

    kind: str  # "text" | "location" | "press"
    text: str = ""
    point: tuple[float, float] = (0.0, 0.0)
    message: dict[str, Any] | None = None


@dataclass
class Journal:
    """What happened to one scripted person, for the checks after the storm."""

    name: str
    user_id: int
    finished: bool = False
    told: list[str] = field(default_factory=list)  # report numbers the bot gave this person
    acts: int = 0
    repeats: int = 0  # nothing came back in time, so the same thing again
    drafts_offered: int = 0  # "You have an unfinished report… Continue?"
    nudged: int = 0  # the draft reminder reached them
    apologies: int = 0  # "Sorry, something went wrong"
    history: list[str] = field(default_factory=list)  # "> what they did" and "< what the bot said", in order


class Actor:
    """A person in a private chat who reacts to the bot's latest words."""

    patience = 4.0  # seconds of silence before doing the last thing again
    settle = 0.25  # after a first new message, how long to let the rest of the answer arrive

    def __init__(self, person: Person, rng: random.Random, deadline: float) -> None:
        self.person = person
        self.rng = rng
        self.deadline = deadline
        self.journal = Journal(type(self).__name__, person.id)
        self.last: Act | None = None
        self.last_query: str | None = None

    @property
    def emulator(self) -> BotAPIEmulator:
        return self.person.emulator

    async def do(self, act: Act) -> None:
        self.last = act
        self.journal.acts += 1
        self.journal.history.append(f"{time.monotonic():.1f} > {act.kind} {act.text[:40]}")
        self.last_query = None
        if act.kind == "text":
            await self.person.send(act.text)
        elif act.kind == "location":
            await self.person.share_location(*act.point)
        else:
            assert act.message is not None
            self.last_query = await self.person.press_data(act.message, act.text)

    async def again(self) -> None:
        """Nothing came back: the same thing once more (a press is a new press of the same button)."""
        self.journal.repeats += 1
        assert self.last is not None
        await self.do(self.last)

    def _refused_press(self) -> bool:
        answer = self.emulator.callback_answers.get(self.last_query or "")
        return bool(answer and answer.get("show_alert"))

    async def listen(self) -> list[dict[str, Any]] | None:
        """New messages (after letting the whole answer arrive); [] for a refused press; None for silence."""
        inbox = self.emulator.inbox
        chat = self.person.chat.id

        def news() -> bool:
            return len(inbox.get(chat, [])) > self.person.cursor or self._refused_press()

        try:
            await self.emulator.wait_for(news, self.patience * self.rng.uniform(0.8, 1.25))
        except TimeoutError:
            return None
        await asyncio.sleep(self.settle)
        messages = self.person.read_all()
        self.journal.history += [f"{time.monotonic():.1f} < {text_of(m)[:70]!r}" for m in messages]
        return messages

    async def run(self) -> Journal:
        await self.begin()
        while not self.journal.finished and time.monotonic() < self.deadline:
            messages = await self.listen()
            if messages is None:
                await self.again()
                continue
            self.notice(messages)
            if self.journal.finished:
                break
            act = self.decide(messages)
            if act is not None:
                await self.do(act)
        return self.journal

    async def begin(self) -> None:
        raise NotImplementedError

    def notice(self, messages: list[dict[str, Any]]) -> None:
        """Takes in everything said (numbers given, apologies) before deciding what to do."""
        for message in messages:
            if "Sorry, something went wrong" in text_of(message):
                self.journal.apologies += 1

    def decide(self, messages: list[dict[str, Any]]) -> Act | None:
        raise NotImplementedError


def button_data(message: dict[str, Any], prefix: str) -> str | None:
    for button in inline_buttons(message):
        data = str(button.get("callback_data", ""))
        if data.startswith(prefix):
            return data
    return None


class Reporter(Actor):
    """Files one report: a category, a shared location, a description, no photo, then Submit."""

    def __init__(self, person: Person, rng: random.Random, deadline: float, category: str, point: tuple[float, float]):
        super().__init__(person, rng, deadline)
        self.category = category
        self.point = point
        self.description = f"Chaos report {person.id}: {category} problem seen near the crossing"

    async def begin(self) -> None:
        await self.do(Act("text", "/report"))

    def notice(self, messages: list[dict[str, Any]]) -> None:
        super().notice(messages)
        for message in messages:
            text = text_of(message)
            # News about the report ("Your report R… has been accepted") tells its number too: the thanks may have
            # been lost in a kill between the commit and the reply, and a person who reads the news knows it is filed.
            told_by = ("Your report number is", "was already sent", "Your latest report is", "Your report R")
            if any(told in text for told in told_by):
                self.journal.told += REPORT_NUMBER.findall(text)[:1]
                self.journal.finished = True
            if "You have an unfinished report" in text:
                self.journal.drafts_offered += 1
            if "did not finish it" in text:
                self.journal.nudged += 1

    def decide(self, messages: list[dict[str, Any]]) -> Act | None:
        for message in reversed(messages):  # the latest thing the bot asked is what to answer
            act = self.answer(message)
            if act is not None:
                return act
        if not messages:  # the press was refused ("belongs to an earlier step"): ask where we are
            return Act("text", "/report")
        return None  # only acknowledgements so far: the question follows (or silence, then again)

    def answer(self, message: dict[str, Any]) -> Act | None:
        text = text_of(message)
        if "You have an unfinished report" in text or "did not finish it" in text:
            return self.press(message, "rpt:resume")
        if "What kind of problem" in text:
            return self.press(message, f"rpt:cat:{self.category}")
        if "Where is it?" in text:
            return Act("location", point=self.point)
        if "Which district" in text:  # the bot took a typed text for an address: say where it is
            return self.press(message, "rpt:dist:wuhan-edz")
        if "already reported this kind of problem nearby" in text:
            return self.press(message, "rpt:new")
        if "describe the problem" in text:
            return Act("text", self.description)
        if "A photo helps" in text:
            return self.press(message, "rpt:skip")
        if "Photos attached" in text:
            return self.press(message, "rpt:done")
        if "Please check your report" in text:
            return self.press(message, "rpt:submit")
        if "Sorry, something went wrong" in text:
            return self.last
        if any(ack in text for ack in ("Location received", "Category:", "A new report, then")):
            return None
        return Act("text", "/report")  # a hint, a pause, "did not understand": ask for the current step

    @staticmethod
    def press(message: dict[str, Any], data: str) -> Act | None:
        return Act("press", data, message=message) if button_data(message, data) == data else None


class Vendor(Actor):
    """Asks where to sell now, shares a location, reads the nearest open spots."""

    MENU = "🛒 Where can I sell?"

    def __init__(self, person: Person, rng: random.Random, deadline: float, point: tuple[float, float]):
        super().__init__(person, rng, deadline)
        self.point = point

    async def begin(self) -> None:
        await self.do(Act("text", self.MENU))

    def notice(self, messages: list[dict[str, Any]]) -> None:
        super().notice(messages)
        for message in messages:
            if button_data(message, "vres:") or "I found no vending spot" in text_of(message):
                self.journal.finished = True

    def decide(self, messages: list[dict[str, Any]]) -> Act | None:
        for message in reversed(messages):
            text = text_of(message)
            if "Where and when may you sell" in text:
                return Act("press", "vmode:nearest", message=message)
            if "Please share your location" in text:
                return Act("location", point=self.point)
            if "Looking for spots" in text or "venue" in message:
                return None
            if "Sorry, something went wrong" in text:
                return self.last
            return Act("text", self.MENU)
        return Act("text", self.MENU)


@dataclass
class CaseAction:
    """A dispatcher's press of "Accept" on one case card, until the bot confirms it."""

    number: str
    presses: int = 0
    answer: str = ""


class Dispatcher:
    """Watches the staff group and accepts some of the new cases (pressing again when no answer comes)."""

    patience = 4.0

    def __init__(self, room: Person, rng: random.Random, wanted: int, share: float) -> None:
        self.room = room
        self.rng = rng
        self.wanted = wanted
        self.share = share
        self.actions: dict[str, CaseAction] = {}
        self.escalations: list[str] = []
        self.cards_seen = 0

    @property
    def emulator(self) -> BotAPIEmulator:
        return self.room.emulator

    async def run(self, stop: asyncio.Event) -> list[CaseAction]:
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            for message in self.room.read_all():
                text = text_of(message)
                if "nobody has accepted it yet" in text:
                    self.escalations += REPORT_NUMBER.findall(text)[:1]
                data = button_data(message, "case:accept:")
                numbers = REPORT_NUMBER.findall(text)
                self.cards_seen += data is not None
                if data is None or not numbers or numbers[0] in self.actions or len(self.actions) >= self.wanted:
                    continue
                if self.rng.random() < self.share:
                    action = self.actions[numbers[0]] = CaseAction(numbers[0])
                    task = asyncio.create_task(self.accept(action, message, data))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except TimeoutError:
                pass
        for task in list(tasks):
            task.cancel()
        return list(self.actions.values())

    async def accept(self, action: CaseAction, card: dict[str, Any], data: str) -> None:
        while True:
            action.presses += 1
            query = await self.room.press_data(card, data)
            try:
                answer = await self.emulator.wait_for(
                    lambda q=query: self.emulator.callback_answers.get(q), self.patience
                )
            except TimeoutError:
                continue  # the bot was down: press again
            action.answer = str(answer.get("text") or "")
            return
