"""Exporting every spot and zone as GeoJSON, in the form the import reads back (the round trip is lossless)."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

from bot.platform.db import Database
from bot.vending.hours import Window, format_hours
from bot.vending.spots import get_spot


async def export_geojson(db: Database, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """Every spot and zone as a FeatureCollection that ``import`` reads back unchanged."""
    features: list[dict[str, Any]] = []
    external = {row["id"]: row["external_id"] for row in await db.fetchall("SELECT id, external_id FROM spots")}
    for row in await db.fetchall("SELECT id FROM spots ORDER BY id"):
        spot = await get_spot(db, row["id"], now, tz, all_exceptions=True)
        props: dict[str, Any] = {
            "id": spot.external_id,
            "name": spot.name,
            "name_en": spot.name_en,
            "district": spot.district,
            "address": spot.address,
            "address_en": spot.address_en,
            "goods": list(spot.goods),
            "fee": spot.fee_cents / 100,
            "capacity": spot.capacity,
            "free_stalls": spot.free_stalls,
            "hours": format_hours(spot.hours),
            "closed": [
                {"from": e.first_day.isoformat(), "to": e.last_day.isoformat(), "reason": e.reason}
                for e in spot.exceptions
            ],
            "status": spot.status,
            "closed_until": spot.closed_until.astimezone(tz).isoformat() if spot.closed_until else None,
            "relocated_to": external.get(spot.relocated_to) if spot.relocated_to else None,
            "status_reason": spot.status_reason,
            "note": spot.note,
        }
        features.append(
            {
                "type": "Feature",
                "properties": {k: v for k, v in props.items() if v not in (None, "", [])},
                "geometry": {"type": "Point", "coordinates": [spot.lon, spot.lat]},
            }
        )
    for row in await db.fetchall(
        """SELECT z.*, (SELECT group_concat(start_m || '-' || end_m) FROM zone_hours h WHERE h.zone_id = z.id) AS week
           FROM zones z ORDER BY z.id"""
    ):
        windows = [Window(*map(int, part.split("-"))) for part in (row["week"] or "").split(",") if part]
        props = {
            "id": row["external_id"],
            "name": row["name"],
            "name_en": row["name_en"],
            "kind": row["kind"],
            "hours": format_hours(sorted(windows)),
            "note": row["note"],
        }
        features.append(
            {
                "type": "Feature",
                "properties": {k: v for k, v in props.items() if v not in (None, "")},
                "geometry": json.loads(row["geometry"]),
            }
        )
    return {"type": "FeatureCollection", "features": features}
