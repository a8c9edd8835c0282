"""/stats for one district breaks its cases down grid by grid; /export csv names each case's grid."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cases import insight_csv, service
from bot.cases.states import ReportState
from bot.people.staff import Action
from tests.support.driver import TestBed, text_of
from tests.support.grid_steps import add_officer, east_of, load_grids, two_grids
from tests.support.staff_steps import ADMIN_ID, enlist, file_case, start_staff_bed


@pytest.fixture
async def bed(idle_bed: TestBed, tmp_path: Path) -> AsyncIterator[TestBed]:
    """Five cases: two in 沌口网格 (one of them closed), one in 车城网格, one in the district outside every grid,
    and one in another district."""
    await start_staff_bed(idle_bed)
    bed = idle_bed
    await add_officer(bed.db, 7001, "Li", "li_grid")
    await load_grids(bed.db, tmp_path, *two_grids())
    closed = await file_case(bed, 5001)
    await file_case(bed, 5002)
    await file_case(bed, 5003, lat=30.48, lon=114.18)
    lat, lon = east_of((30.48, 114.16), 480)
    await file_case(bed, 5004, lat=lat, lon=lon)
    await file_case(bed, 5005, lat=29.35, lon=105.9, district="cq-yongchuan")
    assert bed.services is not None
    now, desk = bed.services.clock.now(), bed.desk
    await service.move(bed.db, ADMIN_ID, Action.ACCEPT, closed.id, ReportState.SUBMITTED, now, desk)
    await service.move(bed.db, ADMIN_ID, Action.RESOLVE, closed.id, ReportState.ACCEPTED, now, desk, note="Swept")
    await service.move(bed.db, ADMIN_ID, Action.CLOSE, closed.id, ReportState.RESOLVED, now, desk)
    yield bed


async def summary_of(bed: TestBed, person_id: int, command: str) -> str:
    """The text that comes with the chart: its caption, and the message after it when the caption was too long."""
    person = bed.person(person_id, "Admin", "en")
    person.read_all()
    await person.send(command)
    chart = await person.expect_message()
    assert "photo" in chart
    return text_of(chart)


@pytest.mark.parametrize("command", ["/stats week wuhan-edz", "/stats Wuhan Economic Development Zone"])
async def test_stats_of_a_district_grid_by_grid(bed: TestBed, command: str) -> None:
    summary = await summary_of(bed, ADMIN_ID, command)
    assert "4 cases in all." in summary  # the other district's case is left out
    lines = summary.splitlines()
    start = lines.index("🗺 Grid by grid in Wuhan Economic Development Zone:")
    assert lines[start + 1 :] == [
        "• 沌口网格: 2 filed, 1 closed, 1 open, 0 overdue",
        "• 车城网格: 1 filed, 0 closed, 1 open, 0 overdue",
        "• outside every grid: 1 filed, 0 closed, 1 open, 0 overdue",
    ]


async def test_stats_of_a_district_in_chinese(bed: TestBed) -> None:
    supervisor = bed.person(9501, "李队长", "zh-hans")
    await enlist(bed, supervisor, "supervisor")
    await supervisor.send("/stats 本周 武汉经开区")
    summary = text_of(await supervisor.expect_message())
    assert "🗺 武汉经开区各网格：" in summary
    assert "• 沌口网格：上报2件，结案1件，在办1件，超期0件" in summary
    assert "• 不在任何网格内：上报1件" in summary


async def test_stats_without_a_district_have_no_grid_lines(bed: TestBed) -> None:
    summary = await summary_of(bed, ADMIN_ID, "/stats week")
    assert "5 cases in all." in summary and "Grid by grid" not in summary


async def test_the_csv_names_each_cases_grid(bed: TestBed) -> None:
    admin = bed.person(ADMIN_ID, "Admin", "en")
    await admin.send("/export csv week")
    document = await admin.expect_message(contains="5 cases filed")
    data = bed.emulator.files[document["document"]["file_id"]].content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert tuple(rows[0]) == insight_csv.CSV_COLUMNS
    assert [(row["grid"], row["grid_name"], row["district"]) for row in rows] == [
        ("edz-01", "沌口网格", "wuhan-edz"),
        ("edz-01", "沌口网格", "wuhan-edz"),
        ("edz-02", "车城网格", "wuhan-edz"),
        ("", "", "wuhan-edz"),
        ("", "", "cq-yongchuan"),
    ]
