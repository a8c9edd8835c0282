"""The one home of callback-data formats: ``prefix:part:part``, each under Telegram's 64-byte limit."""

from __future__ import annotations

from bot.casework import CASE_PREFIX
from bot.followups import ANSWER_PREFIX, SATISFACTION_PREFIX

LANGUAGE = "lang"  # lang:<code>
SETTINGS = "set"  # set:<mute|unmute>
# Made by the core inside queued pushes (bot/followups.py), claimed by handlers/followup.py:
FOLLOWUP_ANSWER = ANSWER_PREFIX  # fu:<report id>:<fixed|partly|not_fixed>
FOLLOWUP_SATISFACTION = SATISFACTION_PREFIX  # fs:<report id>:<1..5>
REPORT = "rpt"  # rpt:<action>[:<value>] — the report wizard (rpt:cat:garbage, rpt:submit, rpt:resume, …)
MY_REPORTS = "mine"  # mine:<action>:<report id>[:<list offset>] — "my reports"
# Made by the core on queued case cards (bot/casework.py), claimed by handlers/staff.py:
CASE = CASE_PREFIX  # case:<action>:<report id>:<state it was made for>[:<officer id>]
STAFF = "staff"  # staff:<list|show|role|remove|removed>[:<user id>[:<role>]] — /staff, admins only
PRIVACY = "forget"  # forget:<yes|no>:<minute it was offered, since the epoch> — /forget's confirmation

# The vendor journey (handlers/vendor.py); locations ride in the data so old result pages keep working.
VENDOR_MODE = "vmode"  # vmode:<nearest|here|district|name|mine>
VENDOR_RESULTS = "vres"  # vres:<lat>:<lon>:<goods or ->:<now|tonight|morning>:<page>
VENDOR_GOODS = "vgoods"  # vgoods:<lat>:<lon>:<when>
VENDOR_DISTRICT = "vdist"  # vdist:<district code>:<page>
VENDOR_SPOT = "vspot"  # vspot:<spot id>
VENDOR_SUBSCRIBE = "vsub"  # vsub:<spot id>
VENDOR_UNSUBSCRIBE = "vunsub"  # vunsub:<spot id>


def make(prefix: str, *parts: object) -> str:
    data = ":".join([prefix, *(str(part) for part in parts)])
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def pattern(prefix: str) -> str:
    """The regex a CallbackQueryHandler uses to claim a prefix."""
    return rf"^{prefix}:"


def parts(data: str | None, prefix: str, count: int) -> list[str] | None:
    """The parts after the prefix, or None when the data is not of that shape (stale or forged)."""
    if not data:
        return None
    pieces = data.split(":")
    if pieces[0] != prefix or len(pieces) != count + 1:
        return None
    return pieces[1:]
