"""Who and where the playground plays: the fixed Telegram users the page acts as, and named places to share."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.cases import grid_import
from bot.people import staff
from bot.platform.geo import ServiceArea
from bot.platform.services import Services

STAFF_GROUP_ID = -1001000000001
STAFF_GROUP_TITLE = "城管指挥中心 · Staff group"


@dataclass(frozen=True)
class Persona:
    """A fixed Telegram user the page can act as."""

    key: str
    user_id: int
    first_name: str
    language_code: str
    role: str  # resident, vendor, staff, admin (what the page says about them)
    groups: tuple[int, ...] = ()

    def chat_ids(self) -> tuple[int, ...]:
        return (self.user_id, *self.groups)


PERSONAS = (
    Persona("resident", 7001, "王芳", "zh-hans", "resident"),
    Persona("vendor", 7002, "李师傅", "zh-hans", "vendor"),
    Persona("staff", 7003, "张队员", "zh-hans", "staff", groups=(STAFF_GROUP_ID,)),
    Persona("admin", 7004, "Alex Chen", "en", "admin", groups=(STAFF_GROUP_ID,)),
)


@dataclass(frozen=True)
class Place:
    """A named point to share as a location; illustrative, like the sample city's district outlines."""

    key: str
    name_zh: str
    name_en: str
    latitude: float
    longitude: float


SAMPLE_PLACES = (
    Place("edz-dongfeng", "经开区 · 东风大道路口", "EDZ · Dongfeng Avenue crossing", 30.4985, 114.1650),
    Place("edz-sports", "经开区 · 体育中心", "EDZ · Sports centre", 30.5050, 114.1880),
    Place("edz-market", "经开区 · 沌阳大道夜市", "EDZ · Zhuanyang Avenue night market", 30.4800, 114.1400),
    Place("yc-square", "永川 · 人民广场", "Yongchuan · People's Square", 29.3550, 105.8950),
    Place("yc-lake", "永川 · 兴龙湖", "Yongchuan · Xinglong Lake", 29.3600, 105.9200),
    Place("hj-huayuankou", "惠济 · 花园口", "Huiji · Huayuankou", 34.9000, 113.6600),
    Place("hj-campus", "惠济 · 大学路口", "Huiji · University Road", 34.8600, 113.6200),
    Place("outside-tower", "武昌 · 黄鹤楼（服务区外）", "Wuchang · Yellow Crane Tower (outside)", 30.5446, 114.3022),
)


async def seed_personas(services: Services, personas: tuple[Persona, ...] = PERSONAS) -> None:
    """Makes the personas known users, as if each had written once; the staff member joins as a field officer
    through an invite from the admin (the admin works the cards at the desk, and dispatches to the officer)."""
    now = services.clock.now()
    admin_ids = services.settings.admin_ids
    admin = next((persona for persona in personas if persona.role == "admin"), None)
    for persona in personas:
        await services.users.seen(persona.user_id, persona.first_name, persona.language_code, now)
        if persona.role == "staff" and admin is not None and admin.user_id in admin_ids:
            district = services.service_area.districts[0].code
            invite = await staff.create_invite(services.db, admin.user_id, staff.Role.OFFICER, district, now, admin_ids)
            await staff.redeem_invite(services.db, invite.code, persona.user_id, persona.first_name, now, admin_ids)
            if services.settings.service_area_file is None:  # the sample city: its grids, with this officer
                await grid_import.load_sample_grids(services.db, services.service_area, persona.user_id, now)


def places_in(area: ServiceArea) -> list[dict[str, Any]]:
    """The sample places, each with the district it lies in (None: outside the service area)."""
    places = []
    for place in SAMPLE_PLACES:
        district = area.district_at(place.latitude, place.longitude)
        places.append({**asdict(place), "district": district.code if district else None})
    if not any(place["district"] for place in places):
        # A city of one's own (SERVICE_AREA_FILE): offer the middle of each district instead.
        for district in area.districts:
            lat, lon = district.center
            places.append(
                {
                    "key": f"centre-{district.code}",
                    "name_zh": f"{district.name_zh} · 中心",
                    "name_en": f"{district.name_en} · centre",
                    "latitude": round(lat, 5),
                    "longitude": round(lon, 5),
                    "district": district.code,
                }
            )
    return places
