"""Button (callback) data: every format the bot makes, written and read strictly in this one place, telegram-free.

Data is ``prefix:part:part…`` in at most 64 bytes (Telegram's limit). What comes back in a callback query may be
forged, so each reader below accepts exactly what :func:`make` could have written — numbers in ASCII digits only
(``str.isdigit`` also says yes to "²" and "٣", which ``int`` then refuses), ids within SQLite's signed 64-bit range,
enum parts among their values, the exact number of parts — and returns None for anything else, never raising; the
handler answers None as a stale button. The vocabularies of the domain (states, roles, categories, goods, periods)
are read from where they are defined; the buttons' own vocabularies are defined here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial

from bot.cases.area_alerts import CADENCES, RADII_M
from bot.cases.states import CATEGORY_BY_CODE, ReportState
from bot.people.staff import Role
from bot.platform.config import SUPPORTED_LANGUAGES
from bot.vending.hours import PERIODS
from bot.vending.spots import GOODS

MAX_BYTES = 64  # Telegram refuses longer callback data
ID_MAX = 2**63 - 1  # SQLite's INTEGER: a larger id raises OverflowError in the driver
OFFSET_MAX = 100_000  # list offsets and pages: far beyond any real list
_NUMBER = re.compile(r"0|[1-9][0-9]{0,18}")  # as str(int) writes it: ASCII digits, no sign, no leading zero
_COORDINATE = re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{1,10})?")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # codes that come from data (districts), checked where they are used

# ------------------------------------------------------------------ every format (made by → read by)
# lang:<language code>                                          handlers/start.py
LANGUAGE = "lang"
# set:<mute|unmute>                                             handlers/followup.py (/settings)
SETTINGS = "set"
# fu:<report id>:<fixed|partly|not_fixed>                       bot/cases/timers.py → handlers/followup.py
FOLLOWUP_ANSWER = "fu"
# fs:<report id>:<1..5>                                         bot/cases/timers.py → handlers/followup.py
FOLLOWUP_SATISFACTION = "fs"
# rpt:<cat|dist|same|edit>:<value>, rpt:<new|skip|done|name|submit|cancel|resume|restart|discard>
#                                                               handlers/report.py (+ bot/cases/drafts.py's nudge)
REPORT = "rpt"
# mine:page:<offset>, mine:<show|withdraw|withdrawn>:<report id>:<offset>, mine:info:<report id>, mine:cancel
#                                                               handlers/my_reports.py
MY_REPORTS = "mine"
# case:<action>:<report id>:<state it was made for>, case:to:<report id>:<state>:<officer id>
#                                                               bot/cases/card.py → handlers/case_cards.py
CASE = "case"
# staff:list, staff:<show|remove|removed>:<user id>, staff:role:<user id>:<role>    handlers/team.py (/staff)
STAFF = "staff"
# note:<note|reply>:<report id>                                 bot/cases/card.py → handlers/case_desk.py
NOTES = "note"
# mod:<menu|back|hide|show|block|unblock>:<report id>, mod:<hidep|showp>:<report id>:<photo id>
#                                                               handlers/case_desk.py (supervisors and admins)
MODERATION = "mod"
# alrt:<list|near|dists|grids>, alrt:rad:<lat>:<lon>:<radius m>, alrt:addn:<lat>:<lon>:<radius m>:<cadence>,
# alrt:<dist|gd>:<district code>, alrt:addd:<district code>:<cadence>, alrt:grid:<grid id>,
# alrt:addg:<grid id>:<cadence>, alrt:rm:<subscription id>      handlers/alerts.py
ALERTS = "alrt"
# forget:<yes|no>:<minute it was offered, since the epoch>      handlers/privacy.py (/forget)
PRIVACY = "forget"
# vmode:<nearest|here|district|name|mine>                       handlers/vendor.py
VENDOR_MODE = "vmode"
# vres:<lat>:<lon>:<goods or ->:<period>:<page> (the place rides along, so old pages keep working)
VENDOR_RESULTS = "vres"
# vgoods:<lat>:<lon>:<period>
VENDOR_GOODS = "vgoods"
# vdist:<district code>:<page>
VENDOR_DISTRICT = "vdist"
# vspot:<spot id>, vsub:<spot id>, vunsub:<spot id>
VENDOR_SPOT = "vspot"
VENDOR_SUBSCRIBE = "vsub"
VENDOR_UNSUBSCRIBE = "vunsub"
SPOT_PREFIXES = (VENDOR_SPOT, VENDOR_SUBSCRIBE, VENDOR_UNSUBSCRIBE)
PREFIXES = (
    LANGUAGE,
    SETTINGS,
    FOLLOWUP_ANSWER,
    FOLLOWUP_SATISFACTION,
    REPORT,
    MY_REPORTS,
    CASE,
    STAFF,
    PRIVACY,
    VENDOR_MODE,
    VENDOR_RESULTS,
    VENDOR_GOODS,
    VENDOR_DISTRICT,
    *SPOT_PREFIXES,
    ALERTS,
    NOTES,
    MODERATION,
)

# ------------------------------------------------------------------ the buttons' own vocabularies
MUTE_ACTIONS = ("mute", "unmute")
FOLLOWUP_ANSWERS = ("fixed", "partly", "not_fixed")
SCORES = range(1, 6)
REPORT_CHOICES = ("cat", "dist", "same", "edit")  # these carry a value
REPORT_ACTIONS = ("new", "skip", "done", "name", "submit", "cancel", "resume", "restart", "discard")
REPORT_FIELDS = ("category", "place", "description", "photos")  # rpt:edit:<field>
RESUME_DRAFT = f"{REPORT}:resume"  # the draft nudge's buttons, queued by the core
DISCARD_DRAFT = f"{REPORT}:discard"
MINE_WITH_OFFSET = ("show", "withdraw", "withdrawn")
# The moves a case card offers (bot.cases.moves.TARGET; a test keeps the two equal) and the officer list's two.
CASE_MOVES = ("accept", "reject", "duplicate", "return", "dispatch", "start", "resolve", "close")
CASE_ACTIONS = (*CASE_MOVES, "to", "back")
STAFF_ACTIONS = ("list", "show", "role", "remove", "removed")
NOTE_KINDS = ("note", "reply")
MODERATION_ACTIONS = ("menu", "back", "hide", "show", "block", "unblock")
PHOTO_MODERATION = ("hidep", "showp")  # these carry the photo's id
VENDOR_MODES = ("nearest", "here", "district", "name", "mine")
NO_GOODS = "-"
_STATES = frozenset(state.value for state in ReportState)
_ROLES = frozenset(role.value for role in Role)


# ------------------------------------------------------------------ writing
def make(prefix: str, *parts: object) -> str:
    """The data of a button; refuses what could not be read back (a ':' inside a part, more than 64 bytes)."""
    texts = [str(part) for part in parts]
    if any(":" in text for text in texts):
        raise ValueError(f"a callback data part contains ':': {texts!r}")
    data = ":".join([prefix, *texts])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def pattern(prefix: str) -> str:
    """The regex a CallbackQueryHandler uses to claim a prefix."""
    return rf"^{prefix}:"


# ------------------------------------------------------------------ reading: the pieces
def split(data: str | None, prefix: str) -> list[str] | None:
    """All the parts after the prefix (at least one), or None when the data is not of that prefix."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    pieces = data.split(":")
    return pieces[1:] if pieces[0] == prefix and len(pieces) > 1 else None


def parts(data: str | None, prefix: str, count: int) -> list[str] | None:
    """The parts after the prefix, or None unless there are exactly ``count`` of them (stale or forged data)."""
    found = split(data, prefix)
    return found if found is not None and len(found) == count else None


def number(text: str, most: int = ID_MAX, least: int = 0) -> int | None:
    """A whole number written as :func:`make` writes one, within ``least..most``, or None."""
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if least <= value <= most else None


def coordinate(text: str, limit: float) -> float | None:
    """A plain decimal degree within ±limit, or None (no exponents, no NaN, no whitespace, no other digits)."""
    if not _COORDINATE.fullmatch(text):
        return None
    value = float(text)
    return value if -limit <= value <= limit else None


def one_of(text: str, allowed: Collection[str]) -> str | None:
    return text if text in allowed else None


def code(text: str) -> str | None:
    """A code from the data (a district): its shape here; whether it exists, where it is used."""
    return text if _CODE.fullmatch(text) else None


# ------------------------------------------------------------------ reading: each format
def language(data: str | None) -> str | None:
    """lang:<code> → the language code."""
    found = parts(data, LANGUAGE, 1)
    return one_of(found[0], SUPPORTED_LANGUAGES) if found else None


def mute(data: str | None) -> bool | None:
    """set:<mute|unmute> → whether to mute."""
    found = parts(data, SETTINGS, 1)
    return None if found is None or found[0] not in MUTE_ACTIONS else found[0] == "mute"


@dataclass(frozen=True)
class FollowupAnswer:
    report_id: int
    answer: str  # one of FOLLOWUP_ANSWERS


def followup_answer(data: str | None) -> FollowupAnswer | None:
    found = parts(data, FOLLOWUP_ANSWER, 2)
    if found is None:
        return None
    report_id, answer = number(found[0]), one_of(found[1], FOLLOWUP_ANSWERS)
    return None if report_id is None or answer is None else FollowupAnswer(report_id, answer)


@dataclass(frozen=True)
class Satisfaction:
    report_id: int
    score: int  # 1..5


def satisfaction(data: str | None) -> Satisfaction | None:
    found = parts(data, FOLLOWUP_SATISFACTION, 2)
    if found is None:
        return None
    report_id, score = number(found[0]), number(found[1], most=SCORES[-1], least=SCORES[0])
    return None if report_id is None or score is None else Satisfaction(report_id, score)


@dataclass(frozen=True)
class ReportButton:
    action: str
    value: str | None = None  # a category code, a district code or a field to edit
    report_id: int | None = None  # rpt:same:<report id>


def report_button(data: str | None) -> ReportButton | None:
    """A report wizard button, its value checked for its action."""
    bare = parts(data, REPORT, 1)
    if bare is not None:
        return ReportButton(bare[0]) if bare[0] in REPORT_ACTIONS else None
    found = parts(data, REPORT, 2)
    if found is None:
        return None
    action, value = found
    if action == "same":
        report_id = number(value)
        return None if report_id is None else ReportButton(action, report_id=report_id)
    checked = {
        "cat": one_of(value, CATEGORY_BY_CODE),
        "dist": code(value),
        "edit": one_of(value, REPORT_FIELDS),
    }.get(action)
    return None if checked is None else ReportButton(action, value=checked)


@dataclass(frozen=True)
class MineButton:
    action: str
    report_id: int | None = None  # none for page and cancel
    offset: int = 0  # where the list was, to go back to it


def my_reports(data: str | None) -> MineButton | None:
    """A "my reports" button."""
    pieces = split(data, MY_REPORTS)
    if pieces is None:
        return None
    action, rest = pieces[0], pieces[1:]
    if action == "cancel" and not rest:
        return MineButton(action)
    if action == "page" and len(rest) == 1:
        offset = number(rest[0], most=OFFSET_MAX)
        return None if offset is None else MineButton(action, offset=offset)
    if action == "info" and len(rest) == 1:
        report_id = number(rest[0])
        return None if report_id is None else MineButton(action, report_id)
    if action in MINE_WITH_OFFSET and len(rest) == 2:
        report_id, offset = number(rest[0]), number(rest[1], most=OFFSET_MAX)
        return None if report_id is None or offset is None else MineButton(action, report_id, offset)
    return None


@dataclass(frozen=True)
class CaseButton:
    action: str  # one of CASE_ACTIONS
    report_id: int
    state: str  # the ReportState value the button was made for
    officer_id: int | None = None  # case:to only


def case_button(data: str | None) -> CaseButton | None:
    """A staff card's button; the officer id comes with case:to and only there."""
    found = split(data, CASE)
    if found is None or len(found) != (4 if found[0] == "to" else 3):
        return None
    if found[0] not in CASE_ACTIONS or found[2] not in _STATES:
        return None
    report_id = number(found[1])
    officer_id = number(found[3]) if len(found) == 4 else None
    if report_id is None or (len(found) == 4 and officer_id is None):
        return None
    return CaseButton(found[0], report_id, found[2], officer_id)


@dataclass(frozen=True)
class StaffButton:
    action: str  # one of STAFF_ACTIONS
    user_id: int | None = None  # none for list
    role: str = ""  # a Role value, for staff:role only


def staff_button(data: str | None) -> StaffButton | None:
    """An /staff button (admins only; that is checked when it is pressed)."""
    found = split(data, STAFF)
    if found is None or found[0] not in STAFF_ACTIONS or len(found) != {"list": 1, "role": 3}.get(found[0], 2):
        return None
    if found[0] == "list":
        return StaffButton("list")
    user_id = number(found[1])
    if user_id is None or (found[0] == "role" and found[2] not in _ROLES):
        return None
    return StaffButton(found[0], user_id, found[2] if found[0] == "role" else "")


@dataclass(frozen=True)
class DeskButton:
    action: str  # one of NOTE_KINDS, MODERATION_ACTIONS or PHOTO_MODERATION
    report_id: int
    photo_id: int | None = None  # hidep / showp only


def notes_button(data: str | None) -> DeskButton | None:
    """A card's "note" or "public reply" button."""
    found = parts(data, NOTES, 2)
    report_id = number(found[1]) if found and found[0] in NOTE_KINDS else None
    return None if found is None or report_id is None else DeskButton(found[0], report_id)


def moderation_button(data: str | None) -> DeskButton | None:
    """A card's moderation button; the photo id comes with hidep / showp and only there."""
    found = split(data, MODERATION)
    photo = found is not None and found[0] in PHOTO_MODERATION
    if found is None or len(found) != (3 if photo else 2) or found[0] not in (*MODERATION_ACTIONS, *PHOTO_MODERATION):
        return None
    report_id, photo_id = number(found[1]), number(found[2]) if photo else None
    if report_id is None or (photo and photo_id is None):
        return None
    return DeskButton(found[0], report_id, photo_id)


@dataclass(frozen=True)
class ForgetButton:
    confirmed: bool
    offered_minute: int  # minutes since the epoch when the question was asked


def forget(data: str | None) -> ForgetButton | None:
    """/forget's yes or no."""
    found = parts(data, PRIVACY, 2)
    if found is None or found[0] not in ("yes", "no"):
        return None
    minute = number(found[1])
    return None if minute is None else ForgetButton(found[0] == "yes", minute)


def vendor_mode(data: str | None) -> str | None:
    found = parts(data, VENDOR_MODE, 1)
    return one_of(found[0], VENDOR_MODES) if found else None


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float


def _place(lat: str, lon: str) -> Place | None:
    latitude, longitude = coordinate(lat, 90), coordinate(lon, 180)
    return None if latitude is None or longitude is None else Place(latitude, longitude)


@dataclass(frozen=True)
class VendorResults:
    place: Place
    goods: str | None  # a GOODS code, or None for all goods
    period: str  # one of PERIODS
    page: int


def vendor_results(data: str | None) -> VendorResults | None:
    found = parts(data, VENDOR_RESULTS, 5)
    if found is None:
        return None
    place, page = _place(found[0], found[1]), number(found[4], most=OFFSET_MAX)
    goods = None if found[2] == NO_GOODS else one_of(found[2], GOODS)
    if place is None or page is None or found[3] not in PERIODS or (goods is None and found[2] != NO_GOODS):
        return None
    return VendorResults(place, goods, found[3], page)


@dataclass(frozen=True)
class VendorGoods:
    place: Place
    period: str  # one of PERIODS


def vendor_goods(data: str | None) -> VendorGoods | None:
    found = parts(data, VENDOR_GOODS, 3)
    place = _place(found[0], found[1]) if found else None
    if found is None or place is None or found[2] not in PERIODS:
        return None
    return VendorGoods(place, found[2])


@dataclass(frozen=True)
class VendorDistrict:
    district: str  # its shape checked; whether it exists, by the service area
    page: int


def vendor_district(data: str | None) -> VendorDistrict | None:
    found = parts(data, VENDOR_DISTRICT, 2)
    if found is None:
        return None
    district, page = code(found[0]), number(found[1], most=OFFSET_MAX)
    return None if district is None or page is None else VendorDistrict(district, page)


def spot(data: str | None, prefix: str) -> int | None:
    """vspot / vsub / vunsub:<spot id> → the spot id."""
    found = parts(data, prefix, 1)
    return number(found[0]) if found and prefix in SPOT_PREFIXES else None


@dataclass(frozen=True)
class AlertButton:
    action: str  # a key of _ALERT_PARTS
    place: Place | None = None  # rad / addn
    radius_m: int | None = None  # rad / addn: one of RADII_M
    district: str | None = None  # dist / addd / gd: its shape checked; whether it exists, by the service area
    cadence: str | None = None  # addn / addd / addg: one of CADENCES
    item_id: int | None = None  # rm: the subscription; grid / addg: the grid


_ALERT_PARTS = {"list": 0, "near": 0, "dists": 0, "grids": 0, "rad": 3, "addn": 4, "dist": 1, "addd": 2, "gd": 1}
_ALERT_PARTS |= {"grid": 1, "addg": 2, "rm": 1}


def alert_button(data: str | None) -> AlertButton | None:
    """An /alerts button: each action with exactly its parts."""
    found = split(data, ALERTS)
    if found is None or len(found) != _ALERT_PARTS.get(found[0], -1) + 1:
        return None
    action, rest = found[0], found[1:]
    cadence = rest[-1] if action.startswith("add") else None
    if cadence is not None and cadence not in CADENCES:
        return None
    if action in ("rad", "addn"):
        place, radius = _place(rest[0], rest[1]), number(rest[2])
        ok = place is not None and radius in RADII_M
        return AlertButton(action, place=place, radius_m=radius, cadence=cadence) if ok else None
    if action in ("dist", "addd", "gd"):
        district = code(rest[0])
        return None if district is None else AlertButton(action, district=district, cadence=cadence)
    if action in ("rm", "grid", "addg"):
        found_id = number(rest[0])
        return None if found_id is None else AlertButton(action, item_id=found_id, cadence=cadence)
    return AlertButton(action)


# Every prefix's reader, for what does not know the prefix in advance (catch-alls, tests).
READERS: dict[str, Callable[[str | None], object]] = {
    LANGUAGE: language,
    SETTINGS: mute,
    FOLLOWUP_ANSWER: followup_answer,
    FOLLOWUP_SATISFACTION: satisfaction,
    REPORT: report_button,
    MY_REPORTS: my_reports,
    CASE: case_button,
    STAFF: staff_button,
    PRIVACY: forget,
    VENDOR_MODE: vendor_mode,
    VENDOR_RESULTS: vendor_results,
    VENDOR_GOODS: vendor_goods,
    VENDOR_DISTRICT: vendor_district,
    NOTES: notes_button,
    MODERATION: moderation_button,
    **{prefix: partial(spot, prefix=prefix) for prefix in SPOT_PREFIXES},
    ALERTS: alert_button,
}


def well_formed(data: str | None) -> bool:
    """Whether the data is a button the bot could have made (whatever its prefix); for catch-alls and logs."""
    prefix = (data or "").split(":", 1)[0]
    reader = READERS.get(prefix)
    return reader is not None and reader(data) is not None
