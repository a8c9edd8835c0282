"""What the playground's chat page can do: read the world and a chat's news, act as a persona, move the clock."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.platform.services import Services
from bot.webapp import init_data
from devtools.emulator import BotAPIEmulator
from devtools.personas import PERSONAS, STAFF_GROUP_ID, STAFF_GROUP_TITLE, Persona, places_in
from devtools.sample_media import media_type, sample_photo, sample_voice

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram's limit for a photo
MAX_ALBUM = 10
MAX_ADVANCE = timedelta(days=31)
LONG_POLL_SECONDS = 10.0
ANSWER_WAIT_SECONDS = 5.0


class PlaygroundError(ValueError):
    """A request the page made cannot be carried out; the message says why, for the person at the page."""


class PlaygroundActions:
    """The page's API over the emulator and the running bot's services (the Playground supplies both)."""

    emulator: BotAPIEmulator
    services: Services | None
    _stopping: bool
    _album_numbers: int

    def running(self) -> Services:
        if self.services is None:
            raise RuntimeError("the playground is not started")
        return self.services

    def now(self) -> datetime:
        return self.running().clock.now()

    def clock(self) -> dict[str, Any]:
        services = self.running()
        now = services.clock.now()
        return {
            "utc": now.isoformat(),
            "local": now.astimezone(services.timezone).strftime("%Y-%m-%d %H:%M"),
            "timezone": str(services.timezone),
            "offset_seconds": services.clock.offset.total_seconds(),
        }

    def world(self) -> dict[str, Any]:
        """Everything the page needs to draw itself: personas, chats, places, districts, commands, the clock."""
        services = self.running()
        area = services.service_area
        personas = []
        for persona in PERSONAS:
            user = self.emulator.users[persona.user_id]
            personas.append({**asdict(persona), "language_code": user.get("language_code", "")})
        commands = {language or "default": items for (_scope, language), items in self.emulator.commands.items()}
        return {
            "bot": self.emulator.bot_user,
            "personas": personas,
            "staff_group": {"id": STAFF_GROUP_ID, "title": STAFF_GROUP_TITLE},
            "places": places_in(area),
            "districts": [
                {
                    "code": district.code,
                    "name_zh": district.name_zh,
                    "name_en": district.name_en,
                    "rings": [[list(point) for point in polygon[0]] for polygon in district.polygons],
                }
                for district in area.districts
            ],
            "commands": commands,
            "clock": self.clock(),
        }

    async def updates(self, chat_id: int, after: int, wait: float) -> dict[str, Any]:
        """The chat's messages changed since journal position ``after`` (current state, edits applied)."""
        journal = self.emulator.journal

        def changed() -> bool:
            return self._stopping or any(key[0] == chat_id for key in journal[after:])

        if wait > 0 and not changed():
            try:
                await self.emulator.wait_for(changed, min(wait, LONG_POLL_SECONDS))
            except TimeoutError:
                pass
        cursor = len(journal)
        keys = dict.fromkeys(key for key in journal[after:cursor] if key[0] == chat_id)
        messages = [_view(self.emulator.messages[key]) for key in keys if key in self.emulator.messages]
        return {"cursor": cursor, "messages": messages, "clock": self.clock()}

    # ------------------------------------------------------------------------------ acting
    def persona(self, key: str) -> Persona:
        for persona in PERSONAS:
            if persona.key == key:
                return persona
        raise PlaygroundError(f"there is no persona {key!r}")

    def member(self, persona_key: str, chat_id: int) -> Persona:
        persona = self.persona(persona_key)
        if chat_id not in persona.chat_ids():
            raise PlaygroundError(f"{persona.first_name} is not in that chat")
        return persona

    async def _push(self, persona: Persona, chat_id: int, body: dict[str, Any]) -> dict[str, Any]:
        message = {
            "message_id": self.emulator.new_message_id(chat_id),
            "date": int(self.now().timestamp()),
            "chat": self.emulator.chats[chat_id].as_dict(),
            "from": dict(self.emulator.users[persona.user_id]),
            **body,
        }
        self.emulator.store_message(message)
        await self.emulator.push_update({"message": message})
        return _view(message)

    def _reply_context(self, chat_id: int, reply_to: Any) -> dict[str, Any]:
        if reply_to in (None, ""):
            return {}
        original = self._existing(chat_id, reply_to)
        return {"reply_to_message": {k: v for k, v in original.items() if k != "reply_to_message"}}

    def _existing(self, chat_id: int, message_id: Any) -> dict[str, Any]:
        try:
            key = (chat_id, int(message_id))
        except (TypeError, ValueError):
            raise PlaygroundError("that message id is not a number") from None
        message = self.emulator.messages.get(key)
        if message is None or message.get("deleted"):
            raise PlaygroundError("that message is not in this chat (any more)")
        return {k: v for k, v in message.items() if not k.startswith("_") and k != "deleted"}

    async def send_text(self, persona_key: str, chat_id: int, text: str, reply_to: Any = None) -> dict[str, Any]:
        """Types a message; a leading /command is marked as one, as clients do."""
        persona = self.member(persona_key, chat_id)
        if not isinstance(text, str) or not text.strip():
            raise PlaygroundError("type something first")
        if len(text) > MAX_TEXT:
            raise PlaygroundError(f"a Telegram message holds at most {MAX_TEXT} characters")
        body: dict[str, Any] = {"text": text, **self._reply_context(chat_id, reply_to)}
        if text.startswith("/"):
            command = text.split()[0]
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._push(persona, chat_id, body)

    async def share_location(self, persona_key: str, chat_id: int, latitude: Any, longitude: Any) -> dict[str, Any]:
        persona = self.member(persona_key, chat_id)
        try:
            lat, lon = float(latitude), float(longitude)
        except (TypeError, ValueError):
            raise PlaygroundError("latitude and longitude must be numbers, e.g. 30.4985 and 114.165") from None
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise PlaygroundError("latitude is -90…90 and longitude -180…180")
        return await self._push(persona, chat_id, {"location": {"latitude": lat, "longitude": lon}})

    def mini_app(self, persona_key: str) -> dict[str, str]:
        """The Mini App's address for the persona, with initData signed by the playground's token as Telegram
        would sign it (the bot's clock: moving it a day on makes the old address stale)."""
        user = self.emulator.users[self.persona(persona_key).user_id]
        signed = init_data.sign(
            self.emulator.token,
            {key: user[key] for key in ("id", "first_name", "language_code") if key in user},
            self.now(),
        )
        fragment = urlencode({"tgWebAppData": signed, "tgWebAppPlatform": "playground", "tgWebAppVersion": "8.0"})
        return {"url": f"/app/#{fragment}"}

    async def send_web_app_data(self, persona_key: str, chat_id: int, data: Any) -> dict[str, Any]:
        """What Telegram posts into the chat when the Mini App calls sendData (at most 4096 bytes)."""
        persona = self.member(persona_key, chat_id)
        if chat_id != persona.user_id:
            raise PlaygroundError("a Mini App sends its data into the private chat only")
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= init_data.MAX_LENGTH:
            raise PlaygroundError("the Mini App's data must be text of 1 to 4096 bytes")
        return await self._push(persona, chat_id, {"web_app_data": {"data": data, "button_text": "🗺"}})

    async def share_contact(self, persona_key: str, chat_id: int) -> dict[str, Any]:
        persona = self.member(persona_key, chat_id)
        contact = {
            "phone_number": f"+86138{persona.user_id:08d}",
            "first_name": persona.first_name,
            "user_id": persona.user_id,
        }
        return await self._push(persona, chat_id, {"contact": contact})

    async def send_voice(self, persona_key: str, chat_id: int) -> dict[str, Any]:
        """Sends the sample clip as a voice message."""
        persona = self.member(persona_key, chat_id)
        stored = self.emulator.new_file("voice", sample_voice(), "voice.wav")
        voice = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "duration": 2, "mime_type": "audio/wav"}
        return await self._push(persona, chat_id, {"voice": voice})

    async def send_photos(
        self, persona_key: str, chat_id: int, photos: list[tuple[bytes, str]], caption: str = ""
    ) -> list[dict[str, Any]]:
        """Sends one photo, or several as one album (a media group), as a phone does; empty means the sample."""
        persona = self.member(persona_key, chat_id)
        photos = photos or [(sample_photo(), "sample.png")]
        if len(photos) > MAX_ALBUM:
            raise PlaygroundError(f"an album holds at most {MAX_ALBUM} photos")
        if len(caption) > MAX_CAPTION:
            raise PlaygroundError(f"a caption holds at most {MAX_CAPTION} characters")
        for content, filename in photos:
            if not (media_type(content) or "").startswith("image/"):
                raise PlaygroundError(f"{filename or 'that file'} is not a photo (JPEG, PNG, GIF or WebP)")
            if len(content) > MAX_PHOTO_BYTES:
                raise PlaygroundError(f"{filename} is larger than 10 MB")
        self._album_numbers += 1
        album = f"playground-album-{self._album_numbers}" if len(photos) > 1 else None
        sent = []
        for number, (content, filename) in enumerate(photos):
            stored = self.emulator.new_file("photo", content, filename)
            body: dict[str, Any] = {
                "photo": [{"file_id": stored.file_id, "file_unique_id": stored.unique_id, "width": 800, "height": 600}]
            }
            if caption and number == 0:
                body["caption"] = caption
            if album:
                body["media_group_id"] = album
            sent.append(await self._push(persona, chat_id, body))
        return sent

    async def press(self, persona_key: str, chat_id: int, message_id: Any, data: Any) -> dict[str, Any] | None:
        """Presses an inline button; returns the bot's answer (toast or alert), or None if it gave none in time."""
        persona = self.member(persona_key, chat_id)
        message = self._existing(chat_id, message_id)
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise PlaygroundError("a button carries 1 to 64 bytes of data")
        query_id = self.emulator.new_callback_id()
        await self.emulator.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": dict(self.emulator.users[persona.user_id]),
                    "chat_instance": f"ci-{chat_id}",
                    "data": data,
                    "message": message,
                }
            }
        )
        try:
            answer: dict[str, Any] = await self.emulator.wait_for(
                lambda: self.emulator.callback_answers.get(query_id), ANSWER_WAIT_SECONDS
            )
        except TimeoutError:
            return None
        return answer

    def set_language(self, persona_key: str, language_code: Any) -> dict[str, Any]:
        """Changes the language the persona's Telegram app reports (``language_code`` of every update)."""
        persona = self.persona(persona_key)
        if not isinstance(language_code, str) or len(language_code) > 35:
            raise PlaygroundError("a language code looks like zh-hans, en or fr")
        user = self.emulator.users[persona.user_id]
        if language_code.strip():
            user["language_code"] = language_code.strip()
        else:
            user.pop("language_code", None)
        return {"key": persona.key, "language_code": user.get("language_code", "")}

    async def advance(self, minutes: Any) -> dict[str, Any]:
        """Moves the bot's clock forward and lets the time listeners (reminders) catch up."""
        try:
            delta = timedelta(minutes=int(minutes))
        except (TypeError, ValueError):
            raise PlaygroundError("minutes must be a whole number") from None
        if not timedelta(0) < delta <= MAX_ADVANCE:
            raise PlaygroundError("the clock moves forward by 1 minute to 31 days at a time")
        await self.running().advance_clock(delta)
        return self.clock()


def _view(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message for the page: the public fields, plus the reply keyboard and whether it was deleted."""
    view = {k: v for k, v in message.items() if not k.startswith("_")}
    if "_keyboard" in message:
        view["keyboard"] = message["_keyboard"]
    view["deleted"] = bool(message.get("deleted"))
    return view
