"""The Bot API methods the emulator answers (``_api_<method>``), each checking what Telegram checks and
changing the world as Telegram would; webhooks are delivered from here too."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from devtools.bot_api import (
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_TEXT,
    ApiError,
    Chat,
    StoredFile,
    location_of,
    plain_text,
    public_message,
    utf16_units,
)
from devtools.telegram_world import TelegramWorld


class BotAPIMethods(TelegramWorld):
    """One coroutine per Bot API method, found by name (``_api_`` + the method in lower case)."""

    # ------------------------------------------------------- the methods
    async def _api_getme(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return self.bot_user

    async def _api_logout(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _api_close(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _api_getupdates(self, params: dict[str, Any], uploads: Any) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        async with self._changed:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and self.serving:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    break
            return self._updates[:limit]

    async def _api_setwebhook(self, params: dict[str, Any], uploads: Any) -> bool:
        self.webhook_url = params.get("url") or None
        self.webhook_secret = params.get("secret_token") or None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self.webhook_url and self._webhook_task is None:
            self._webhook_task = asyncio.create_task(self._deliver_webhooks())
        return True

    async def _api_deletewebhook(self, params: dict[str, Any], uploads: Any) -> bool:
        self.webhook_url = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _api_setmycommands(self, params: dict[str, Any], uploads: Any) -> bool:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        self.commands[(scope, params.get("language_code") or "")] = list(params["commands"])
        return True

    async def _api_getmycommands(self, params: dict[str, Any], uploads: Any) -> list[dict[str, Any]]:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        return self.commands.get((scope, params.get("language_code") or ""), [])

    async def _api_deletemycommands(self, params: dict[str, Any], uploads: Any) -> bool:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        self.commands.pop((scope, params.get("language_code") or ""), None)
        return True

    async def _api_setchatmenubutton(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _api_getchat(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return {**self._chat(params).as_dict(), "accent_color_id": 0, "max_reaction_count": 11}

    async def _api_sendchataction(self, params: dict[str, Any], uploads: Any) -> bool:
        self._chat(params)
        return True

    async def _api_sendmessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        text = str(params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain = plain_text(text, params.get("parse_mode"))
        if utf16_units(plain) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._deliver(params, {"text": plain})

    async def _api_sendlocation(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        location = location_of(params)
        return self._deliver(params, {"location": location})

    async def _api_sendvenue(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        location = location_of(params)
        venue = {"location": location, "title": str(params["title"]), "address": str(params["address"])}
        return self._deliver(params, {"venue": venue, "location": location})

    async def _api_sendphoto(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        stored = self._file_param(params, uploads, "photo")
        sizes = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "width": 1280,
                "height": 960,
                "file_size": len(stored.content),
            }
        ]
        return self._deliver(params, {"photo": sizes, **self._caption(params)})

    async def _api_senddocument(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        stored = self._file_param(params, uploads, "document")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": stored.filename or "file",
            "file_size": len(stored.content),
        }
        return self._deliver(params, {"document": document, **self._caption(params)})

    async def _api_sendvoice(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        stored = self._file_param(params, uploads, "voice")
        voice = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "duration": 3}
        return self._deliver(params, {"voice": voice, **self._caption(params)})

    async def _api_sendmediagroup(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> list[Any]:
        media = params.get("media") or []
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the group")
        group_id = str(next(self._file_ids) + 9_000_000)
        sent = []
        for item in media:
            reference = str(item["media"])
            if reference.startswith("attach://"):
                content, name = uploads[reference.removeprefix("attach://")]
                stored = self.new_file(item["type"], content, name)
            else:
                stored = self._known_file(reference)
            if item["type"] == "photo":
                body: dict[str, Any] = {
                    "photo": [
                        {
                            "file_id": stored.file_id,
                            "file_unique_id": stored.unique_id,
                            "width": 1280,
                            "height": 960,
                        }
                    ]
                }
            else:
                body = {item["type"]: {"file_id": stored.file_id, "file_unique_id": stored.unique_id}}
            if item.get("caption"):
                body.update(self._caption(item))
            sent.append(self._deliver(params, {**body, "media_group_id": group_id}))
        return sent

    async def _api_forwardmessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        original = self.messages.get((int(params["from_chat_id"]), int(params["message_id"])))
        if original is None:
            raise ApiError(400, "Bad Request: message to forward not found")
        body = {k: v for k, v in original.items() if k not in {"message_id", "chat", "date", "from"}}
        return self._deliver(
            params,
            {
                **body,
                "forward_origin": {
                    "type": "hidden_user",
                    "date": int(self.clock()),
                    "sender_user_name": "hidden",
                },
            },
        )

    async def _api_copymessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        original = self.messages.get((int(params["from_chat_id"]), int(params["message_id"])))
        if original is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        body = {k: v for k, v in original.items() if k not in {"message_id", "chat", "date", "from", "reply_markup"}}
        if "caption" in params:
            body.pop("caption", None)
            body.update(self._caption(params))
        sent = self._deliver(params, body)
        return {"message_id": sent["message_id"]}

    async def _api_editmessagetext(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._editable(params)
        text = plain_text(str(params.get("text", "")), params.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_units(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._markup(params)
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message["text"] = text
        self._set_markup(message, markup)
        return self._edited(message)

    async def _api_editmessagecaption(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._editable(params)
        message.update(self._caption(params))
        self._set_markup(message, self._markup(params))
        return self._edited(message)

    async def _api_editmessagereplymarkup(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._editable(params)
        markup = self._markup(params)
        if message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        self._set_markup(message, markup)
        return self._edited(message)

    async def _api_deletemessage(self, params: dict[str, Any], uploads: Any) -> bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.messages[key]["deleted"] = True
        self.journal.append(key)
        return True

    async def _api_answercallbackquery(self, params: dict[str, Any], uploads: Any) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id in self.callback_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": bool(params.get("show_alert")),
        }
        return True

    async def _api_getfile(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        stored = self._known_file(str(params["file_id"]))
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.content),
            "file_path": stored.path,
        }

    # ------------------------------------------------------------ helpers
    def _chat(self, params: dict[str, Any]) -> Chat:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not str(button.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return dict(markup)

    @staticmethod
    def _set_markup(message: dict[str, Any], markup: dict[str, Any] | None) -> None:
        # Only inline keyboards stay attached to a message; editing without one removes it.
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("caption"):
            return {}
        caption = plain_text(str(params["caption"]), params.get("parse_mode"))
        if utf16_units(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": caption}

    def _deliver(self, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        markup = self._markup(params)
        message: dict[str, Any] = {
            "message_id": self.new_message_id(chat.id),
            "date": int(self.clock()),
            "chat": chat.as_dict(),
            "from": self.bot_user,
            **body,
        }
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        elif markup is not None:
            message["_keyboard"] = markup  # what the client shows under the input field; not echoed back
        reply_to = params.get("reply_to_message_id") or (params.get("reply_parameters") or {}).get("message_id")
        if reply_to and (chat.id, int(reply_to)) in self.messages:
            message["reply_to_message"] = {
                k: v for k, v in self.messages[(chat.id, int(reply_to))].items() if k != "reply_to_message"
            }
        self.store_message(message)
        self.inbox.setdefault(chat.id, []).append(message)
        return public_message(message)

    def _editable(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported here")
        chat = self._chat(params)
        message = self.messages.get((chat.id, int(params.get("message_id") or 0)))
        if message is None or message.get("deleted"):
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edited(self, message: dict[str, Any]) -> dict[str, Any]:
        message["edit_date"] = int(self.clock())
        self.edits.append((message["chat"]["id"], message["message_id"]))
        self.journal.append((message["chat"]["id"], message["message_id"]))
        return public_message(message)

    def _file_param(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]], name: str) -> StoredFile:
        value = params.get(name)
        if value is None and name in uploads:
            content, filename = uploads[name]
            return self.new_file(name, content, filename)
        if isinstance(value, str) and value.startswith("attach://"):
            content, filename = uploads[value.removeprefix("attach://")]
            return self.new_file(name, content, filename)
        if isinstance(value, str):
            return self._known_file(value)
        raise ApiError(400, f"Bad Request: there is no {name} in the request")

    def _known_file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return stored

    async def _deliver_webhooks(self) -> None:
        """Posts pending updates to the webhook in order, as Telegram does, retrying on failure."""
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                async with self._changed:
                    while not (self.webhook_url and self._updates):
                        await self._changed.wait()
                    update, url = self._updates[0], self.webhook_url
                headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
                try:
                    response = await client.post(url, json=update, headers=headers)
                    delivered = response.status_code < 300
                except httpx.HTTPError:
                    delivered = False
                if delivered:
                    async with self._changed:
                        if self._updates and self._updates[0] is update:
                            self._updates.pop(0)
                        self._changed.notify_all()
                else:
                    await asyncio.sleep(0.2)
