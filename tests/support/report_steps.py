"""Shared steps of the report journeys: walking the wizard to a step, filing a report behind the scenes."""

from __future__ import annotations

import math
from typing import Any

from bot.cases import config, service
from bot.cases.drafts import Draft
from bot.cases.states import Report
from bot.platform.geo import EARTH_RADIUS_M
from tests.support.driver import Person, TestBed

HOME = (30.48, 114.15)  # inside the sample city's Wuhan Economic Development Zone
BEIJING = (39.9042, 116.4074)  # outside the service area
STAFF_CHAT = -100200300
DESCRIPTION = "Garbage bags piled up at the bus stop since Monday"


def north_of(point: tuple[float, float], meters: float) -> tuple[float, float]:
    return point[0] + math.degrees(meters / EARTH_RADIUS_M), point[1]


async def walk_to(person: Person, step: str, category: str = "Exposed garbage") -> dict[str, Any]:
    """Drives the wizard (in English) to ``step``; returns the message asking for it."""
    await person.send("/report")
    prompt = await person.expect_message(contains="What kind of problem")
    if step == "category":
        return prompt
    await person.press(prompt, category)
    prompt = await person.expect_message(contains="Where is it?")
    if step == "location":
        return prompt
    if step == "district":
        await person.send("No. 18 Dongfeng Avenue, by the bus stop")
        await person.expect_message(contains="Address noted")
        return await person.expect_message(contains="Which district")
    await person.share_location(*HOME)
    await person.expect_message(contains="Location received")
    prompt = await person.expect_message(contains="describe the problem")
    if step == "description":
        return prompt
    await person.send(DESCRIPTION)
    prompt = await person.expect_message(contains="A photo helps")
    if step == "photos":
        return prompt
    await person.press(prompt, "Skip")
    prompt = await person.expect_message(contains="Please check your report")
    assert step == "review", step
    return prompt


async def file_behind_the_scenes(
    bed: TestBed, reporter: int, place: tuple[float, float] = HOME, **changes: Any
) -> Report:
    """A report filed through the core, as if the person had done it earlier."""
    assert bed.services is not None
    values: dict[str, Any] = {
        "category": "garbage",
        "lat": place[0],
        "lon": place[1],
        "district": "wuhan-edz",
        "description": DESCRIPTION,
        **changes,
    }
    services = bed.services
    policy = config.policy_from(
        services.settings, services.lang(services.settings.default_language), services.service_area
    )
    return await service.submit(services.db, reporter, Draft(**values), services.clock.now(), policy)


async def count_rows(bed: TestBed, table: str) -> int:
    row = await bed.db.fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0])


async def draft_step(bed: TestBed, telegram_id: int) -> str | None:
    row = await bed.db.fetchone("SELECT step FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    return None if row is None else str(row["step"])
