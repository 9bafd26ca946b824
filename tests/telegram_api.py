"""A local stand-in for the Telegram Bot API that python-telegram-bot talks to over real HTTP.

The project forbids mocking PTB, so bot tests run the real library against this aiohttp server:
build the bot with `api.application_builder()`, inject updates with the builders, and assert on
`api.sent` / `api.calls`. Chats and users are plain Bot API dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, NoReturn, TypeAlias, TypeVar

import pytest_asyncio
from aiohttp import web
from telegram.ext import Application, ApplicationBuilder

JSON = dict[str, Any]
AnyApplication: TypeAlias = "Application[Any, Any, Any, Any, Any, Any]"
T = TypeVar("T")
DEFAULT_TOKEN = "123456789:TEST-token_for-the-local-stand-in"
SERVICE_USER: JSON = {"id": 777000, "is_bot": False, "first_name": "Telegram"}  # auto-forwards


def user(id: int, first_name: str, username: str | None = None, language_code: str = "en") -> JSON:
    u: JSON = {"id": id, "is_bot": False, "first_name": first_name, "language_code": language_code}
    return u | ({"username": username} if username else {})


def group(id: int, title: str, username: str | None = None, type: str = "supergroup") -> JSON:
    return {"id": id, "type": type, "title": title} | ({"username": username} if username else {})


def channel(id: int, title: str, username: str | None = None) -> JSON:
    return group(id, title, username, type="channel")


def private_chat(u: JSON) -> JSON:
    return {"type": "private"} | {k: u[k] for k in ("id", "first_name", "username") if k in u}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_AUTO_ENTITIES = (
    ("bot_command", r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z]\w{2,31})?"),
    ("mention", r"(?<![\w@])@[A-Za-z]\w{3,31}"),
    ("url", r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]']"),
)


def auto_entities(text: str) -> list[JSON]:
    """The entities Telegram detects in plain text by itself (offsets in UTF-16 code units)."""
    found = [
        (m.start(), m.end(), kind) for kind, rx in _AUTO_ENTITIES for m in re.finditer(rx, text)
    ]
    return [
        {"type": kind, "offset": utf16_len(text[:a]), "length": utf16_len(text[a:b])}
        for a, b, kind in sorted(found)
    ]


def _text(text: str, key: str = "text") -> JSON:
    entities = auto_entities(text)
    return {key: text} | ({f"{key.replace('text', '')}entities": entities} if entities else {})


# Telegram's HTML dialect: these tags only, four named entities, tags closed in order.
_HTML_TAGS = {
    tag: kind
    for kind, tags in [
        ("bold", "b strong"),
        ("italic", "i em"),
        ("underline", "u ins"),
        ("strikethrough", "s strike del"),
        ("text_link", "a"),
        ("code", "code"),
        ("pre", "pre"),
        ("spoiler", "tg-spoiler span"),
        ("blockquote", "blockquote"),
        ("custom_emoji", "tg-emoji"),
    ]
    for tag in tags.split()
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HtmlError(ValueError):
    pass


class _TelegramHtml(HTMLParser):
    # Stricter than Telegram on purpose: a bare '&' (which Telegram keeps literally) is an error,
    # so a bot that forgets html.escape() on user text fails in tests, not on "AT&T <3".
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)  # entities arrive separately from bare '&'
        self.source = source
        self.parts: list[str] = []
        self.entities: list[JSON] = []
        self.stack: list[tuple[str, JSON | None, int]] = []
        self._pos = 0  # UTF-16 length of the visible text so far
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def _index(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _fail(self, what: str, after: str = "", extra_chars: int = 0) -> NoReturn:
        offset = len(self.source[: self._index() + extra_chars].encode())
        raise HtmlError(f"{what} at byte offset {offset}{after}")

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self._pos += utf16_len(text)

    def handle_data(self, data: str) -> None:
        for ch in "<&":
            if ch in data:
                self._fail(f"Unescaped '{ch}'", extra_chars=data.index(ch))
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        if not self.source.startswith(f"&{name};", self._index()):
            self._fail("Unescaped '&'")
        if name not in _NAMED_ENTITIES:
            self._fail(f'Unsupported HTML entity "&{name};"')
        self._emit(_NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        try:
            self._emit(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))
        except (ValueError, OverflowError):
            self._fail(f'Invalid character reference "&#{name};"')

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if (kind := _HTML_TAGS.get(tag)) is None:
            self._fail(f'Unsupported start tag "{tag}"')
        attr = {k: v or "" for k, v in attrs}
        entity: JSON | None = {"type": kind}
        if tag == "a":
            entity = {"type": kind, "url": attr["href"]} if attr.get("href") else None
        elif tag == "span" and attr.get("class") != "tg-spoiler":
            self._fail('Tag "span" must have class "tg-spoiler"')
        elif tag == "tg-emoji":
            if not attr.get("emoji-id"):
                self._fail('Tag "tg-emoji" must have attribute "emoji-id"')
            entity = {"type": kind, "custom_emoji_id": attr["emoji-id"]}
        elif tag == "blockquote" and "expandable" in attr:
            entity = {"type": "expandable_blockquote"}
        elif tag == "code" and self.stack and (pre := self.stack[-1])[0] == "pre":
            if pre[1] is not None and attr.get("class", "").startswith("language-"):
                pre[1]["language"] = attr["class"].removeprefix("language-")
            entity = None  # <pre><code> makes a single pre entity
        self.stack.append((tag, entity, self._pos))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail("Unexpected end tag")
        open_tag, entity, start = self.stack.pop()
        if open_tag != tag:
            self._fail("Unmatched end tag", f', expected "</{open_tag}>", found "</{tag}>"')
        if entity is not None and self._pos > start:
            self.entities.append({**entity, "offset": start, "length": self._pos - start})

    def _unsupported(self, *args: str, **kwargs: str) -> None:  # comments, <!...>, <?...>
        self._fail("Unsupported HTML construct")

    handle_comment = handle_decl = handle_pi = unknown_decl = _unsupported

    def parse(self) -> tuple[str, list[JSON]]:
        self.feed(self.source)
        if self.rawdata.startswith("&"):  # close() would silently drop a trailing bare '&'
            self._fail("Unescaped '&'")
        self.close()
        if self.stack:
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """(visible text, entities) of a Telegram HTML text, or HtmlError."""
    return _TelegramHtml(source).parse()


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def as_api(self) -> JSON:
        d: JSON = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        d |= {"file_name": self.file_name, "mime_type": self.mime_type}
        return {k: v for k, v in d.items() if v} | {"file_size": len(self.content)}


@dataclass
class UploadedFile:
    filename: str | None
    content: bytes
    content_type: str | None

    def __repr__(self) -> str:  # keeps call logs readable
        return f"UploadedFile({self.filename!r}, {len(self.content)} bytes)"


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    text: str  # as the bot sent it, markup included (the caption, for a document)
    plain_text: str  # what the user sees
    parse_mode: str | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    reply_markup: JSON | None = None
    entities: list[JSON] = field(default_factory=list)
    method: str = "sendMessage"
    document: StoredFile | None = None


@dataclass
class ApiCall:
    method: str
    params: JSON
    time: float  # time.monotonic(), the clock asyncio uses


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


# PTB sends these as raw strings; every other form value is JSON-encoded.
_STR_PARAMS = frozenset(
    "text caption parse_mode callback_query_id url file_id inline_message_id action secret_token "
    "language_code title description document emoji business_connection_id".split()
)
_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_METHODS = (
    "getMe getUpdates deleteWebhook setWebhook getWebhookInfo sendMessage editMessageText "
    "editMessageReplyMarkup answerCallbackQuery sendDocument getFile sendChatAction setMyCommands "
    "getChatMember getChatAdministrators getChat close logOut deleteMessage setMessageReaction "
    "deleteMyCommands"
).split()


def _decode(key: str, value: Any) -> Any:
    if isinstance(value, str) and key not in _STR_PARAMS:
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


class FakeTelegram:
    """The Bot API for one bot token. Public state (sent, calls, chats, ...) is for assertions."""

    def __init__(self, token: str = DEFAULT_TOKEN, bot_username: str = "rumor_test_bot") -> None:
        self.token = token
        bot_id = int(token.split(":")[0])
        self.bot_user: JSON = user(bot_id, "Rumor Responder", bot_username) | {"is_bot": True}
        del self.bot_user["language_code"]
        self.url = ""
        self.sent: list[SentMessage] = []  # sendMessage / sendDocument, in order
        self.edited: list[SentMessage] = []  # editMessageText
        self.calls: list[ApiCall] = []  # every authorised call of a known method
        self.callback_answers: list[JSON] = []  # answerCallbackQuery params
        self.deleted: list[tuple[int, int]] = []
        self.reactions: dict[tuple[int, int], list[JSON]] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope JSON, language) -> list
        self.webhook_url = ""
        self.chats: dict[int, JSON] = {}  # where the bot may send
        self.users: dict[int, JSON] = {}
        self.files: dict[str, StoredFile] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._message_ids: defaultdict[int, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._ids = itertools.count(1)  # update ids, file numbers, callback query ids
        self._queue: list[JSON] = []
        self._allowed: set[str] | None = None
        self._open_queries: set[str] = set()
        self._admins: dict[int, list[int]] = {}
        self._creator: dict[int, int] = {}
        self._statuses: dict[tuple[int, int], str] = {}
        self._bot_gone: set[int] = set()
        self._failures: defaultdict[str, list[ApiError]] = defaultdict(list)
        self._wakeup = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------------------- lifecycle
    async def start(self) -> str:
        app = web.Application(client_max_size=50 * 1024 * 1024)  # the Bot API upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # stop() wakes every long poll first, so handlers finish well within a second.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def application_builder(self) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
        """An ApplicationBuilder with this server's token, base_url and base_file_url set."""
        builder = ApplicationBuilder().token(self.token).base_url(f"{self.url}/bot")
        return builder.base_file_url(f"{self.url}/file/bot")

    # ------------------------------------------------------------------------ test controls
    def fail_next(self, method: str, retry_after: int = 5) -> None:
        """Make the next call of `method` hit flood control (HTTP 429 with retry_after)."""
        desc = f"Too Many Requests: retry after {retry_after}"
        self.fail_next_error(method, 429, desc, {"retry_after": retry_after})

    def fail_next_error(
        self, method: str, code: int, description: str, parameters: JSON | None = None
    ) -> None:
        self._failures[method.lower()].append(ApiError(code, description, parameters))

    def set_admins(self, chat_id: int, user_ids: list[int], creator_id: int | None = None) -> None:
        self._admins[chat_id] = list(user_ids)
        if creator_id is not None:
            self._creator[chat_id] = creator_id

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """'member', 'left' or 'kicked' for getChatMember (admins come from set_admins)."""
        self._statuses[(chat_id, user_id)] = status

    def add_chat(self, chat: JSON) -> JSON:
        """Let the bot send to `chat` without an update from it first."""
        self.chats[chat["id"]] = chat
        self._bot_gone.discard(chat["id"])
        return chat

    def message(self, chat_id: int, message_id: int) -> JSON:
        """A stored message as it is now (edits applied)."""
        return self._messages[(chat_id, message_id)]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JSON]:
        return [u for u in self._queue if self._wanted(u)]

    async def wait_for_sent(self, n: int, timeout: float = 5) -> list[SentMessage]:  # noqa: ASYNC109
        return await self._wait(lambda: self.sent[:] if len(self.sent) >= n else None, timeout)

    async def wait_for_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> list[ApiCall]:
        return await self._wait(
            lambda: c if len(c := self.calls_to(method)) >= n else None, timeout
        )

    async def wait_for_sent_to(
        self,
        chat_id: int,
        n: int = 1,
        *,
        after: int = 0,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """The first `n` messages sent to `chat_id` since `len(self.sent)` was `after`."""

        def check() -> list[SentMessage] | None:
            found = [m for m in self.sent[after:] if m.chat_id == chat_id]
            return found[:n] if len(found) >= n else None

        return await self._wait(check, timeout)

    async def wait_for_edit(
        self,
        chat_id: int,
        message_id: int,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> SentMessage:
        """The latest editMessageText of that message, once there is one."""

        def check() -> SentMessage | None:
            edits = [m for m in self.edited if (m.chat_id, m.message_id) == (chat_id, message_id)]
            return edits[-1] if edits else None

        return await self._wait(check, timeout)

    async def wait_until_consumed(self, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed (by getUpdates offset) every queued update."""
        await self._wait(lambda: not self.pending_updates or None, timeout)

    async def _wait(self, check: Callable[[], T | None], seconds: float) -> T:
        deadline = time.monotonic() + seconds
        while True:
            wakeup = self._wakeup  # taken before checking, so no notification is missed
            if (result := check()) is not None:
                return result
            if (remaining := deadline - time.monotonic()) <= 0:
                sent = [m.plain_text for m in self.sent]
                raise AssertionError(f"timed out after {seconds}s; sent so far: {sent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    # --------------------------------------------------------------------------------- HTTP
    async def _handle(self, request: web.Request) -> web.Response:
        params: JSON = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            params.update(await request.json())
        elif request.can_read_body:
            for key, part in (await request.post()).items():
                if isinstance(part, web.FileField):
                    params[key] = UploadedFile(part.filename, part.file.read(), part.content_type)
                else:
                    params[key] = part
        params = {k: _decode(k, v) for k, v in params.items()}
        if request.match_info["token"] != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        lowered = {m.lower(): m for m in _METHODS}
        if (name := lowered.get(request.match_info["method"].lower())) is None:
            return self._error(ApiError(404, "Not Found"))
        self.calls.append(ApiCall(name, params, time.monotonic()))
        try:
            if failures := self._failures[name.lower()]:
                raise failures.pop(0)
            result = await getattr(self, f"_api_{name}")(params)
        except ApiError as exc:
            return self._error(exc)
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(exc: ApiError) -> web.Response:
        body: JSON = {"ok": False, "error_code": exc.code, "description": exc.description}
        body |= {"parameters": exc.parameters} if exc.parameters else {}
        return web.json_response(body, status=exc.code)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        for stored in self.files.values():
            if stored.file_path == request.match_info["path"]:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return self._error(ApiError(404, "Not Found"))

    # ------------------------------------------------------------------------------ helpers
    @staticmethod
    def _required(p: JSON, key: str) -> Any:
        if p.get(key) in (None, ""):
            raise ApiError(400, f"Bad Request: {key} is empty")
        return p[key]

    def _chat(self, p: JSON) -> JSON:
        chat_id = self._required(p, "chat_id")
        if isinstance(chat_id, str):  # "@username" of a public chat
            chat = next(
                (c for c in self.chats.values() if f"@{c.get('username')}" == chat_id), None
            )
        else:
            chat = self.chats.get(chat_id)
        if chat is None and isinstance(chat_id, int) and chat_id > 0:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat["id"] in self._bot_gone:
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        return chat

    def _target(self, p: JSON, what: str) -> JSON:
        chat = self._chat(p)
        msg = self._messages.get((chat["id"], int(self._required(p, "message_id"))))
        if msg is None:
            raise ApiError(400, f"Bad Request: message to {what} not found")
        return msg

    def _editable(self, p: JSON) -> JSON:
        msg = self._target(p, "edit")
        if msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    @staticmethod
    def _render(p: JSON, key: str) -> tuple[str, list[JSON]]:
        """Validate `text`/`caption` like Telegram; return the visible text and its entities."""
        raw, mode = p.get(key) or "", (p.get("parse_mode") or "").lower()
        if mode == "html":
            try:
                plain, entities = parse_html(raw)
            except HtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):  # Markdown passes through unchecked
            plain, entities = (
                raw,
                list(p.get("entities" if key == "text" else "caption_entities") or []),
            )
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if key == "text" and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if key == "text" and utf16_len(plain) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        if key == "caption" and utf16_len(plain) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return plain, entities

    @staticmethod
    def _markup(p: JSON) -> JSON | None:
        markup = p.get("reply_markup") or None
        for row in (markup or {}).get("inline_keyboard", []):
            if any(len(b.get("callback_data", "").encode()) > 64 for b in row):
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _store(self, chat: JSON, sender: JSON | None, fields: JSON) -> JSON:
        msg: JSON = {"message_id": next(self._message_ids[chat["id"]]), "date": int(time.time())}
        if sender is not None:
            msg["from"] = self.users.setdefault(sender["id"], sender)
        msg |= {"chat": chat, **fields}
        self._messages[(chat["id"], msg["message_id"])] = msg
        return msg

    @staticmethod
    def _reply_id(p: JSON) -> int | None:
        reply = p.get("reply_parameters")  # PTB 22 turns reply_to_message_id into this
        return reply.get("message_id") if isinstance(reply, dict) else p.get("reply_to_message_id")

    def _record(self, msg: JSON, p: JSON, key: str, method: str) -> SentMessage:
        return SentMessage(
            chat_id=msg["chat"]["id"],
            message_id=msg["message_id"],
            text=p.get(key) or "",
            plain_text=msg.get(key, ""),
            parse_mode=p.get("parse_mode"),
            reply_to_message_id=self._reply_id(p),
            message_thread_id=p.get("message_thread_id"),
            reply_markup=self._markup(p),
            entities=msg.get("entities" if key == "text" else "caption_entities", []),
            method=method,
            document=self.files.get(msg.get("document", {}).get("file_id", "")),
        )

    def _send(self, p: JSON, key: str, fields: JSON, method: str) -> JSON:
        chat, markup = self._chat(p), self._markup(p)
        if replied := self._messages.get((chat["id"], self._reply_id(p) or 0)):
            fields["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        if p.get("message_thread_id") is not None:
            fields["message_thread_id"] = p["message_thread_id"]
        if markup and "inline_keyboard" in markup:  # Telegram echoes only inline keyboards
            fields["reply_markup"] = markup
        if chat["type"] == "channel":  # channel posts have a sender_chat instead of a sender
            msg = self._store(chat, None, {"sender_chat": chat} | fields)
        else:
            msg = self._store(chat, self.bot_user, fields)
        self.sent.append(self._record(msg, p, key, method))
        return msg

    def _store_file(
        self,
        content: bytes,
        name: str | None,
        mime: str | None,
        kind: str,
        unique: str | None = None,
    ) -> StoredFile:
        n = next(self._ids)
        ext = m.group() if (m := re.search(r"\.\w+$", name or "")) else None
        path = f"{kind}s/file_{n}{ext or mimetypes.guess_extension(mime or '') or ''}"
        stored = StoredFile(f"{kind.upper()}-{n}-ID", unique or f"U{n}", path, content, name, mime)
        self.files[stored.file_id] = stored
        return stored

    def _member(self, chat_id: int, member: JSON, status: str | None = None) -> JSON:
        uid = member["id"]
        if status is None and uid in self._admins.get(chat_id, ()):
            status = "creator" if self._creator.get(chat_id) == uid else "administrator"
        status = status or self._statuses.get((chat_id, uid), "member")
        d: JSON = {"status": status, "user": member}
        if status == "creator":
            d["is_anonymous"] = False
        elif status == "kicked":
            d["until_date"] = 0
        elif status == "administrator":  # PTB insists on every one of these flags
            for value, flags in (
                (False, "can_be_edited is_anonymous can_promote_members can_post_stories"),
                (False, "can_edit_stories can_delete_stories"),
                (True, "can_manage_chat can_delete_messages can_manage_video_chats"),
                (True, "can_restrict_members can_change_info can_invite_users can_pin_messages"),
            ):
                d |= dict.fromkeys(flags.split(), value)
        return d

    def _wanted(self, update: JSON) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed is None:  # Telegram's default set leaves these out
            return kind not in ("chat_member", "message_reaction", "message_reaction_count")
        return kind in self._allowed

    # ---------------------------------------------------------------------- Bot API methods
    async def _api_getMe(self, p: JSON) -> JSON:
        flags = {"can_join_groups": True, "can_read_all_group_messages": False}
        return self.bot_user | flags | {"supports_inline_queries": False}

    async def _api_getUpdates(self, p: JSON) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        if "allowed_updates" in p:
            self._allowed = set(p["allowed_updates"]) or None
        if offset < 0:
            self._queue = self._queue[offset:]
        elif offset:  # an offset confirms (forgets) every earlier update
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while True:  # long poll: answer as soon as something is queued
            wakeup = self._wakeup
            ready = self.pending_updates[:limit]
            if ready or self._closing or (remaining := deadline - time.monotonic()) <= 0:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    async def _api_deleteWebhook(self, p: JSON) -> bool:
        self.webhook_url = ""
        if p.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _api_setWebhook(self, p: JSON) -> bool:
        self.webhook_url = self._required(p, "url")
        return True

    async def _api_getWebhookInfo(self, p: JSON) -> JSON:
        pending = len(self.pending_updates)
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
        }

    async def _api_sendMessage(self, p: JSON) -> JSON:
        plain, entities = self._render(p, "text")
        return self._send(
            p, "text", {"text": plain} | ({"entities": entities} if entities else {}), "sendMessage"
        )

    async def _api_sendDocument(self, p: JSON) -> JSON:
        doc = self._required(p, "document")
        if isinstance(doc, UploadedFile):
            if not doc.content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            stored = self._store_file(doc.content, doc.filename, doc.content_type, "document")
        elif isinstance(doc, str) and doc in self.files:
            stored = self.files[doc]
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        plain, entities = self._render(p, "caption")
        fields: JSON = {"document": stored.as_api()} | ({"caption": plain} if plain else {})
        fields |= {"caption_entities": entities} if entities else {}
        return self._send(p, "caption", fields, "sendDocument")

    async def _api_editMessageText(self, p: JSON) -> JSON | bool:
        if p.get("inline_message_id"):
            return True
        msg = self._editable(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        plain, entities = self._render(p, "text")
        markup = self._markup(p)
        if (plain, entities, markup) == (
            msg["text"],
            msg.get("entities", []),
            msg.get("reply_markup"),
        ):
            raise ApiError(400, _NOT_MODIFIED)
        for key, value in (("entities", entities), ("reply_markup", markup)):
            msg.pop(key, None)  # an edit without reply_markup removes the keyboard
            msg |= {key: value} if value else {}
        msg |= {"text": plain, "edit_date": int(time.time())}
        self.edited.append(self._record(msg, p, "text", "editMessageText"))
        return msg

    async def _api_editMessageReplyMarkup(self, p: JSON) -> JSON | bool:
        if p.get("inline_message_id"):
            return True
        msg, markup = self._editable(p), self._markup(p)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, _NOT_MODIFIED)
        msg.pop("reply_markup", None)
        return msg | ({"reply_markup": markup} if markup else {}) | {"edit_date": int(time.time())}

    async def _api_answerCallbackQuery(self, p: JSON) -> bool:
        if (query_id := self._required(p, "callback_query_id")) not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        self.callback_answers.append(p)
        return True

    async def _api_getFile(self, p: JSON) -> JSON:
        if (stored := self.files.get(self._required(p, "file_id"))) is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.as_api() | {"file_path": stored.file_path}

    async def _api_sendChatAction(self, p: JSON) -> bool:
        self._chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_setMyCommands(self, p: JSON) -> bool:
        commands = self._required(p, "commands")
        if not all(re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", "")) for c in commands):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        scope = self._scope(p)
        self.commands[(scope, p.get("language_code") or "")] = commands
        return True

    def _scope(self, p: JSON) -> str:
        scope = p.get("scope") or {"type": "default"}
        if scope.get("type") == "chat" and scope.get("chat_id") not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")  # the user never wrote to the bot
        return json.dumps(scope)

    async def _api_deleteMyCommands(self, p: JSON) -> bool:
        self.commands.pop((self._scope(p), p.get("language_code") or ""), None)
        return True

    async def _api_getChatMember(self, p: JSON) -> JSON:
        chat, uid = self._chat(p), int(self._required(p, "user_id"))
        if (member := self.bot_user if uid == self.bot_user["id"] else self.users.get(uid)) is None:
            raise ApiError(400, "Bad Request: user not found")
        return self._member(chat["id"], member)

    async def _api_getChatAdministrators(self, p: JSON) -> list[JSON]:
        if (chat := self._chat(p))["type"] == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        known = self.users | {self.bot_user["id"]: self.bot_user}
        ids = self._admins.get(chat["id"], [])
        stub = {"is_bot": False, "first_name": "Admin"}
        return [self._member(chat["id"], known.get(i, {"id": i} | stub)) for i in ids]

    async def _api_getChat(self, p: JSON) -> JSON:
        gifts = (
            "unlimited_gifts limited_gifts unique_gifts premium_subscription gifts_from_channels"
        )
        extra = {"accent_color_id": 0, "max_reaction_count": 11}  # required by PTB's ChatFullInfo
        return self._chat(p) | extra | {"accepted_gift_types": dict.fromkeys(gifts.split(), False)}

    async def _api_close(self, p: JSON) -> bool:
        return True

    async def _api_logOut(self, p: JSON) -> bool:
        return True

    async def _api_deleteMessage(self, p: JSON) -> bool:
        msg = self._target(p, "delete")
        key = (msg["chat"]["id"], msg["message_id"])
        del self._messages[key]
        self.deleted.append(key)
        return True

    async def _api_setMessageReaction(self, p: JSON) -> bool:
        msg = self._target(p, "react")
        self.reactions[(msg["chat"]["id"], msg["message_id"])] = p.get("reaction") or []
        return True

    # ----------------------------------------------------------------------- update builders
    # Each returns the update dict and, unless queue=False, queues it for getUpdates.
    def push(self, update: JSON) -> JSON:
        """Queue any update dict; its update_id is (re)assigned so the queue stays ordered."""
        update["update_id"] = next(self._ids)
        self._queue.append(update)
        self._notify()
        return update

    def _update(self, payload: JSON, queue: bool) -> JSON:
        return self.push(payload) if queue else {"update_id": next(self._ids)} | payload

    def _message(self, sender: JSON, chat: JSON | None, fields: JSON, queue: bool) -> JSON:
        msg = self._store(self.add_chat(chat or private_chat(sender)), sender, fields)
        return self._update({"message": msg}, queue)

    def _resolve(self, message: JSON | SentMessage | int, chat_id: int) -> JSON:
        if isinstance(message, SentMessage):
            return self._messages[(message.chat_id, message.message_id)]
        if isinstance(message, int):
            return self._messages[(chat_id, message)]
        return self._messages.get((message["chat"]["id"], message["message_id"]), message)

    def private_text(
        self, user: JSON, text: str, language_code: str = "en", *, queue: bool = True
    ) -> JSON:
        return self._message(user | {"language_code": language_code}, None, _text(text), queue)

    def private_reply(
        self,
        user: JSON,
        text: str,
        reply_to: JSON | SentMessage | int,
        *,
        queue: bool = True,
    ) -> JSON:
        """A text in the user's private chat replying to an earlier message there."""
        chat = private_chat(user)
        replied = self._resolve(reply_to, chat["id"])
        fields = _text(text) | {
            "reply_to_message": {k: v for k, v in replied.items() if k != "reply_to_message"}
        }
        return self._message(user, chat, fields, queue)

    def group_text(
        self,
        user: JSON,
        group_chat: JSON,
        text: str,
        reply_to: JSON | SentMessage | int | None = None,
        *,
        message_thread_id: int | None = None,
        queue: bool = True,
    ) -> JSON:
        """reply_to: a message dict, a SentMessage or a message_id in group_chat."""
        fields = _text(text)
        if reply_to is not None:
            replied = self._resolve(reply_to, group_chat["id"])
            fields["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        if message_thread_id is not None:
            fields |= {"message_thread_id": message_thread_id, "is_topic_message": True}
        return self._message(user, group_chat, fields, queue)

    def forwarded_from_channel(
        self,
        user: JSON,
        text: str,
        channel_title: str,
        channel_username: str | None,
        channel_post_id: int,
        *,
        channel_id: int | None = None,
        queue: bool = True,
    ) -> JSON:
        """A channel post the user forwarded to the bot (channel_id defaults to a stable hash)."""
        cid = channel_id or -1_000_000_000_000 - zlib.crc32(
            str(channel_username or channel_title).encode()
        )
        source, date = channel(cid, channel_title, channel_username), int(time.time()) - 60
        origin = {"type": "channel", "chat": source, "message_id": channel_post_id, "date": date}
        legacy = {
            "forward_from_chat": source,
            "forward_from_message_id": channel_post_id,
            "forward_date": date,
        }
        return self._message(user, None, _text(text) | {"forward_origin": origin} | legacy, queue)

    def _media(self, kind: str, unique_id: str | None, content: bytes) -> JSON:
        mime = "image/jpeg" if kind == "photo" else "video/mp4"
        big = self._store_file(content, None, mime, kind, unique_id)
        if kind == "video":
            return {"video": big.as_api() | {"width": 1280, "height": 720, "duration": 10}}
        thumb = self._store_file(content[:16], None, mime, kind, f"{big.file_unique_id}-thumb")
        sizes = [
            thumb.as_api() | {"width": 90, "height": 67},
            big.as_api() | {"width": 1280, "height": 960},
        ]
        return {"photo": sizes}

    def photo_with_caption(
        self,
        user: JSON,
        caption: str,
        file_unique_id: str | None = None,
        *,
        chat: JSON | None = None,
        content: bytes = b"\xff\xd8jpeg",
        queue: bool = True,
    ) -> JSON:
        fields = self._media("photo", file_unique_id, content) | _text(caption, "caption")
        return self._message(user, chat, fields, queue)

    def video_with_caption(
        self,
        user: JSON,
        caption: str,
        file_unique_id: str | None = None,
        *,
        chat: JSON | None = None,
        content: bytes = b"\0\0\0\x18ftypmp42",
        queue: bool = True,
    ) -> JSON:
        fields = self._media("video", file_unique_id, content) | _text(caption, "caption")
        return self._message(user, chat, fields, queue)

    def document(
        self,
        user: JSON,
        filename: str,
        content_bytes: bytes,
        caption: str | None = None,
        *,
        chat: JSON | None = None,
        mime_type: str | None = None,
        queue: bool = True,
    ) -> JSON:
        """A file the user sent; getFile and the download URL serve `content_bytes`."""
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        fields = {"document": self._store_file(content_bytes, filename, mime, "document").as_api()}
        return self._message(
            user, chat, fields | (_text(caption, "caption") if caption else {}), queue
        )

    def media_group(
        self,
        user: JSON,
        count: int = 2,
        caption: str | None = None,
        *,
        kind: str = "photo",
        chat: JSON | None = None,
        queue: bool = True,
    ) -> list[JSON]:
        """An album: `count` photo (or video) messages with one media_group_id, caption on the first."""
        album_id = str(10_000_000 + next(self._ids))
        updates = []
        for i in range(count):
            fields = self._media(kind, None, f"{album_id}-{i}".encode()) | {
                "media_group_id": album_id
            }
            fields |= _text(caption, "caption") if caption and i == 0 else {}
            updates.append(self._message(user, chat, fields, queue))
        return updates

    def channel_post_auto_forward(
        self, discussion_group: JSON, channel: JSON, text: str, *, queue: bool = True
    ) -> JSON:
        """The copy of a new channel post that Telegram puts in the linked discussion group."""
        post_id, date = next(self._message_ids[channel["id"]]), int(time.time())
        origin = {"type": "channel", "chat": channel, "message_id": post_id, "date": date}
        fields = _text(text) | {
            "sender_chat": channel,
            "is_automatic_forward": True,
            "forward_origin": origin,
        }
        fields |= {
            "forward_from_chat": channel,
            "forward_from_message_id": post_id,
            "forward_date": date,
        }
        return self._message(SERVICE_USER, discussion_group, fields, queue)

    def callback_query(
        self, user: JSON, message: JSON | SentMessage, data: str, *, queue: bool = True
    ) -> JSON:
        """A button press on `message` (a SentMessage or message dict); answer it to close it."""
        msg = self._resolve(message, 0)
        query_id = str(4_000_000_000 + next(self._ids))
        self._open_queries.add(query_id)
        self.users.setdefault(user["id"], user)
        instance = str(zlib.crc32(str(msg["chat"]["id"]).encode()))
        query = {
            "id": query_id,
            "from": user,
            "message": msg,
            "chat_instance": instance,
            "data": data,
        }
        return self._update({"callback_query": query}, queue)

    def my_chat_member(
        self, chat: JSON, from_user: JSON, old_status: str, new_status: str, *, queue: bool = True
    ) -> JSON:
        """The bot's own membership in `chat` changed; after 'left'/'kicked' sends there fail."""
        if new_status in ("left", "kicked"):
            self._bot_gone.add(chat["id"])
        else:
            self.add_chat(chat)
        change: JSON = {"chat": chat, "from": self.users.setdefault(from_user["id"], from_user)}
        change |= {"date": int(time.time())}
        change["old_chat_member"] = self._member(chat["id"], self.bot_user, old_status)
        change["new_chat_member"] = self._member(chat["id"], self.bot_user, new_status)
        return self._update({"my_chat_member": change}, queue)

    def bot_added_to_group(self, chat: JSON, by: JSON, as_admin: bool = False) -> JSON:
        return self.my_chat_member(chat, by, "left", "administrator" if as_admin else "member")

    def bot_removed_from_group(self, chat: JSON, by: JSON) -> JSON:
        return self.my_chat_member(chat, by, "member", "left")


@contextlib.asynccontextmanager
async def running_fake_telegram(
    token: str = DEFAULT_TOKEN, **kwargs: Any
) -> AsyncIterator[FakeTelegram]:
    api = FakeTelegram(token, **kwargs)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@contextlib.asynccontextmanager
async def running_application(
    app: AnyApplication, poll_timeout: int = 1
) -> AsyncIterator[AnyApplication]:
    """Initialize, start and long-poll `app`; tear down in reverse, so nothing leaks."""
    await app.initialize()
    try:
        await app.start()
        try:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)
            try:
                yield app
            finally:
                await app.updater.stop()
        finally:
            await app.stop()
    finally:
        await app.shutdown()


@pytest_asyncio.fixture(name="telegram_api")
async def telegram_api_fixture() -> AsyncIterator[FakeTelegram]:
    """The `telegram_api` fixture: import this name into a conftest or test module to use it."""
    async with running_fake_telegram() as api:
        yield api
