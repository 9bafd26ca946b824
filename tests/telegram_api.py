"""A local stand-in for the Telegram Bot API that python-telegram-bot talks to over real HTTP.

The project forbids mocking PTB, so bot tests run the real library against this aiohttp server.
Point PTB at it with ``api.application_builder()`` (or ``base_url(f"{url}/bot")`` and
``base_file_url(f"{url}/file/bot")``), inject updates with the builders, assert on ``sent``/``calls``.
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
from typing import Any, NoReturn, TypeVar

import pytest_asyncio
from aiohttp import web
from telegram.ext import Application, ApplicationBuilder

JSON = dict[str, Any]
T = TypeVar("T")
DEFAULT_TOKEN = "123456789:TEST-token_for-the-local-stand-in"
SERVICE_USER: JSON = {
    "id": 777000,
    "is_bot": False,
    "first_name": "Telegram",
}  # sender of auto-forwards

# --------------------------------------------------------------------------------- users and chats


def user(id: int, first_name: str, username: str | None = None, language_code: str = "en") -> JSON:
    u: JSON = {"id": id, "is_bot": False, "first_name": first_name, "language_code": language_code}
    if username:
        u["username"] = username
    return u


def group(id: int, title: str, username: str | None = None, type: str = "supergroup") -> JSON:
    g: JSON = {"id": id, "type": type, "title": title}
    if username:
        g["username"] = username
    return g


def channel(id: int, title: str, username: str | None = None) -> JSON:
    return group(id, title, username, type="channel")


def private_chat(u: JSON) -> JSON:
    keys = ("id", "first_name", "last_name", "username")
    return {"type": "private", **{k: u[k] for k in keys if k in u}}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def auto_entities(text: str) -> list[JSON]:
    """Entities Telegram's client-side parser would attach to plain text (offsets in UTF-16)."""
    patterns = (
        ("bot_command", r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z]\w{2,31})?"),
        ("mention", r"(?<![\w@])@[A-Za-z]\w{3,31}"),
        ("url", r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]'»]"),
    )
    found = [(m.start(), m.end(), kind) for kind, rx in patterns for m in re.finditer(rx, text)]
    return [
        {"type": kind, "offset": utf16_len(text[:a]), "length": utf16_len(text[a:b])}
        for a, b, kind in sorted(found)
    ]


def _with_entities(text: str, key: str, body: str = "text") -> JSON:
    entities = auto_entities(text)
    return {body: text, key: entities} if entities else {body: text}


# ------------------------------------------------------------------------------ HTML parse mode
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HtmlError(ValueError):
    pass


class _TelegramHtml(HTMLParser):
    """Telegram's HTML dialect: a small tag set, four named entities, every tag closed in order.

    Stricter than Telegram in one respect: a bare '&' is rejected, so bots must escape user text.
    """

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)  # keep entities separate so bare '&' is visible
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
        kind = _HTML_ENTITY_TYPES.get(tag)
        if kind is None:
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
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            pre = self.stack[-1][1]
            if pre is not None and attr.get("class", "").startswith("language-"):
                pre["language"] = attr["class"].removeprefix("language-")
            entity = None  # <pre><code> is one pre entity
        self.stack.append((tag, entity, self._pos))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail("Unexpected end tag")
        open_tag, entity, start = self.stack.pop()
        if open_tag != tag:
            self._fail("Unmatched end tag", f', expected "</{open_tag}>", found "</{tag}>"')
        if entity is not None and self._pos > start:
            self.entities.append({**entity, "offset": start, "length": self._pos - start})

    def _unsupported(self, data: str) -> None:
        self._fail("Unsupported HTML construct")

    handle_comment = handle_decl = handle_pi = unknown_decl = _unsupported

    def parse(self) -> tuple[str, list[JSON]]:
        self.feed(self.source)
        if self.rawdata.startswith("&"):  # close() would silently drop a trailing bare '&'
            self._fail("Unescaped '&'")
        self.close()
        if self.stack:
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Return (visible text, entities) for Telegram HTML, or raise HtmlError."""
    return _TelegramHtml(source).parse()


# ----------------------------------------------------------------------------- records
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
        d["file_size"] = len(self.content)
        if self.file_name:
            d["file_name"] = self.file_name
        if self.mime_type:
            d["mime_type"] = self.mime_type
        return d


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
    text: str  # as the bot sent it (the caption for media), markup included
    plain_text: str  # what the user sees
    parse_mode: str | None
    reply_to_message_id: int | None
    message_thread_id: int | None
    reply_markup: JSON | None
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


# Values PTB leaves as raw strings; everything else in a form body is JSON-encoded.
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


def _decode(key: str, value: Any) -> Any:
    if isinstance(value, str) and key not in _STR_PARAMS:
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


# ---------------------------------------------------------------------------------- the server
class FakeTelegram:
    def __init__(self, token: str = DEFAULT_TOKEN, bot_username: str = "rumor_test_bot") -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Rumor Responder",
            "username": bot_username,
        }
        self.url = ""
        self.sent: list[SentMessage] = []
        self.edited: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.callback_answers: list[JSON] = []
        self.deleted: list[tuple[int, int]] = []
        self.reactions: dict[tuple[int, int], list[JSON]] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook_url = ""
        self.chats: dict[int, JSON] = {}
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
        self._methods: dict[str, Callable[[JSON], Any]] = {
            name.lower(): getattr(self, f"_api_{name}")
            for name in (
                "getMe getUpdates deleteWebhook setWebhook getWebhookInfo sendMessage "
                "editMessageText editMessageReplyMarkup answerCallbackQuery sendDocument getFile "
                "sendChatAction setMyCommands getMyCommands getChatMember getChatAdministrators "
                "getChat close logOut deleteMessage setMessageReaction"
            ).split()
        }

    # ----------------------------------------------------------------------- lifecycle
    async def start(self) -> str:
        app = web.Application(client_max_size=50 * 1024 * 1024)  # Bot API upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # Long polls are woken on stop(), so a short grace period is enough.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def application_builder(self) -> ApplicationBuilder:  # type: ignore[type-arg]
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(f"{self.url}/bot")
            .base_file_url(f"{self.url}/file/bot")
        )

    # ---------------------------------------------------------------- test controls
    def fail_next(self, method: str, retry_after: int = 5) -> None:
        """Make the next call of `method` hit flood control (HTTP 429)."""
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
        self._statuses[(chat_id, user_id)] = status

    def add_chat(self, chat: JSON) -> JSON:
        """Make a chat known, so the bot may send to it without an update from it first."""
        self.chats[chat["id"]] = chat
        self._bot_gone.discard(chat["id"])
        return chat

    def message(self, chat_id: int, message_id: int) -> JSON:
        """The current state of a stored message (edits applied)."""
        return self._messages[(chat_id, message_id)]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JSON]:
        return [u for u in self._queue if self._wanted(u)]

    async def wait_for_sent(self, n: int, timeout: float = 5) -> list[SentMessage]:
        return await self._wait(
            lambda: list(self.sent) if len(self.sent) >= n else None,
            timeout,
            f"{n} sent message(s)",
        )

    async def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5) -> list[ApiCall]:
        def check() -> list[ApiCall] | None:
            found = self.calls_to(method)
            return found if len(found) >= n else None

        return await self._wait(check, timeout, f"{n} call(s) of {method}")

    async def wait_until_consumed(self, timeout: float = 5) -> None:
        """Wait until the bot has confirmed (via getUpdates offset) every queued update."""
        await self._wait(lambda: not self.pending_updates or None, timeout, "updates consumed")

    async def _wait(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while True:
            wakeup = self._wakeup  # taken before checking so no notification is missed
            if (result := check()) is not None:
                return result
            if (remaining := deadline - time.monotonic()) <= 0:
                made = [c.method for c in self.calls]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; calls: {made}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    # ---------------------------------------------------------------------- HTTP
    async def _handle(self, request: web.Request) -> web.Response:
        params: JSON = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            params.update(await request.json())
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    value = UploadedFile(value.filename, value.file.read(), value.content_type)
                params[key] = value
        params = {k: _decode(k, v) for k, v in params.items()}
        if request.match_info["token"] != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        handler = self._methods.get(request.match_info["method"].lower())
        if handler is None:
            return self._error(ApiError(404, "Not Found"))
        name = handler.__name__.removeprefix("_api_")
        self.calls.append(ApiCall(name, params, time.monotonic()))
        try:
            if failures := self._failures[name.lower()]:
                raise failures.pop(0)
            result = await handler(params)
        except ApiError as exc:
            return self._error(exc)
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(exc: ApiError) -> web.Response:
        body: JSON = {"ok": False, "error_code": exc.code, "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return web.json_response(body, status=exc.code)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return self._error(ApiError(404, "Not Found"))

    # --------------------------------------------------------------------- helpers
    @staticmethod
    def _required(p: JSON, key: str) -> Any:
        if p.get(key) in (None, ""):
            raise ApiError(400, f"Bad Request: {key} is empty")
        return p[key]

    def _chat(self, p: JSON) -> JSON:
        chat_id = self._required(p, "chat_id")
        if isinstance(chat_id, str):  # a public @username
            chat = next(
                (c for c in self.chats.values() if f"@{c.get('username')}" == chat_id), None
            )
        else:
            chat = self.chats.get(chat_id)
        if chat is None:
            if isinstance(chat_id, int) and chat_id > 0:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
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
    def _render(
        text: str | None, parse_mode: str | None, entities: list[JSON] | None, caption: bool
    ) -> tuple[str, list[JSON]]:
        text = text or ""
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                plain, entities = parse_html(text)
            except HtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):  # Markdown is passed through unchecked
            plain, entities = text, list(entities or [])
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if not caption and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > (1024 if caption else 4096):
            what = "message caption is too long" if caption else "message is too long"
            raise ApiError(400, f"Bad Request: {what}")
        return plain, entities

    @staticmethod
    def _check_markup(markup: Any) -> JSON | None:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup or None

    def _store(self, chat: JSON, sender: JSON | None, fields: JSON) -> JSON:
        msg: JSON = {"message_id": next(self._message_ids[chat["id"]]), "date": int(time.time())}
        if sender is not None:
            msg["from"] = sender
            self.users.setdefault(sender["id"], sender)
        msg |= {"chat": chat, **fields}
        self._messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def _send(self, p: JSON, fields: JSON, text: str, plain: str, method: str) -> JSON:
        chat = self._chat(p)
        reply = p.get("reply_parameters")
        reply_id = (
            reply.get("message_id") if isinstance(reply, dict) else p.get("reply_to_message_id")
        )
        markup = self._check_markup(p.get("reply_markup"))
        if reply_id is not None and (replied := self._messages.get((chat["id"], reply_id))):
            fields["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        if p.get("message_thread_id") is not None:
            fields["message_thread_id"] = p["message_thread_id"]
        if markup and "inline_keyboard" in markup:  # Telegram echoes inline keyboards only
            fields["reply_markup"] = markup
        sender = None if chat["type"] == "channel" else self.bot_user
        msg = self._store(chat, sender, fields if sender else {"sender_chat": chat, **fields})
        self.sent.append(
            SentMessage(
                chat["id"],
                msg["message_id"],
                text,
                plain,
                p.get("parse_mode"),
                reply_id,
                p.get("message_thread_id"),
                markup,
                fields.get("entities") or fields.get("caption_entities") or [],
                method,
                self.files.get(fields.get("document", {}).get("file_id", "")),
            )
        )
        return msg

    def _store_file(
        self,
        content: bytes,
        name: str | None,
        mime: str | None,
        kind: str,
        unique_id: str | None = None,
    ) -> StoredFile:
        n = next(self._ids)
        ext = re.search(r"\.\w+$", name or "") or None
        suffix = ext.group() if ext else mimetypes.guess_extension(mime or "") or ""
        stored = StoredFile(
            f"{kind.upper()}-{n}-fileid",
            unique_id or f"uniq{n}",
            f"{kind}s/file_{n}{suffix}",
            content,
            name,
            mime,
        )
        self.files[stored.file_id] = stored
        return stored

    def _member(self, chat_id: int, member: JSON, status: str | None = None) -> JSON:
        uid = member["id"]
        if status is None:
            status = self._statuses.get((chat_id, uid), "member")
            if uid in self._admins.get(chat_id, ()):
                status = "creator" if self._creator.get(chat_id) == uid else "administrator"
        d: JSON = {"status": status, "user": member}
        if status == "creator":
            d["is_anonymous"] = False
        elif status == "administrator":
            d |= dict.fromkeys(
                "can_be_edited is_anonymous can_post_stories can_edit_stories can_delete_stories "
                "can_promote_members".split(),
                False,
            ) | dict.fromkeys(
                "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
                "can_change_info can_invite_users can_pin_messages".split(),
                True,
            )
        elif status == "kicked":
            d["until_date"] = 0
        elif status == "restricted":
            d |= {"until_date": 0, "is_member": True, "can_edit_tag": False} | dict.fromkeys(
                "can_change_info can_invite_users can_pin_messages can_send_messages "
                "can_send_polls can_send_other_messages can_add_web_page_previews "
                "can_manage_topics can_send_audios can_send_documents can_send_photos "
                "can_send_videos can_send_video_notes can_send_voice_notes".split(),
                False,
            )
        return d

    def _wanted(self, update: JSON) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed is None:  # Telegram's default leaves these out
            return kind not in ("chat_member", "message_reaction", "message_reaction_count")
        return kind in self._allowed

    # ------------------------------------------------------------------- Bot API methods
    async def _api_getMe(self, p: JSON) -> JSON:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getUpdates(self, p: JSON) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        if "allowed_updates" in p:
            self._allowed = set(p["allowed_updates"]) or None
        if offset < 0:
            self._queue = self._queue[offset:]
        elif offset:  # an offset confirms everything before it
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while True:
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
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }

    async def _api_sendMessage(self, p: JSON) -> JSON:
        text = p.get("text")
        plain, entities = self._render(text, p.get("parse_mode"), p.get("entities"), caption=False)
        fields: JSON = {"text": plain} | ({"entities": entities} if entities else {})
        return self._send(p, fields, text or "", plain, "sendMessage")

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
        caption = p.get("caption")
        plain, ents = self._render(caption, p.get("parse_mode"), p.get("caption_entities"), True)
        fields: JSON = {"document": stored.as_api()}
        fields |= ({"caption": plain} if plain else {}) | (
            {"caption_entities": ents} if ents else {}
        )
        return self._send(p, fields, caption or "", plain, "sendDocument")

    async def _api_editMessageText(self, p: JSON) -> JSON | bool:
        if p.get("inline_message_id"):
            return True
        msg = self._editable(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = p.get("text")
        plain, entities = self._render(text, p.get("parse_mode"), p.get("entities"), caption=False)
        markup = self._check_markup(p.get("reply_markup"))
        if (plain, entities, markup) == (
            msg["text"],
            msg.get("entities", []),
            msg.get("reply_markup"),
        ):
            raise ApiError(400, _NOT_MODIFIED)
        for key, value in (("entities", entities), ("reply_markup", markup)):
            msg.pop(key, None)  # Telegram drops the keyboard unless it is sent again
            if value:
                msg[key] = value
        msg |= {"text": plain, "edit_date": int(time.time())}
        self.edited.append(
            SentMessage(
                msg["chat"]["id"],
                msg["message_id"],
                text or "",
                plain,
                p.get("parse_mode"),
                None,
                msg.get("message_thread_id"),
                markup,
                entities,
                "editMessageText",
            )
        )
        return msg

    async def _api_editMessageReplyMarkup(self, p: JSON) -> JSON | bool:
        if p.get("inline_message_id"):
            return True
        msg = self._editable(p)
        markup = self._check_markup(p.get("reply_markup"))
        if markup == msg.get("reply_markup"):
            raise ApiError(400, _NOT_MODIFIED)
        msg.pop("reply_markup", None)
        if markup:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        return msg

    async def _api_answerCallbackQuery(self, p: JSON) -> bool:
        query_id = self._required(p, "callback_query_id")
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(p.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        self.callback_answers.append(p)
        return True

    async def _api_getFile(self, p: JSON) -> JSON:
        stored = self.files.get(self._required(p, "file_id"))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.as_api() | {"file_path": stored.file_path}

    async def _api_sendChatAction(self, p: JSON) -> bool:
        self._chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_setMyCommands(self, p: JSON) -> bool:
        commands = self._required(p, "commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        key = (json.dumps(p.get("scope") or {"type": "default"}), p.get("language_code") or "")
        self.commands[key] = commands
        return True

    async def _api_getMyCommands(self, p: JSON) -> list[JSON]:
        key = (json.dumps(p.get("scope") or {"type": "default"}), p.get("language_code") or "")
        return self.commands.get(key, [])

    async def _api_getChatMember(self, p: JSON) -> JSON:
        chat, uid = self._chat(p), int(self._required(p, "user_id"))
        member = self.bot_user if uid == self.bot_user["id"] else self.users.get(uid)
        if member is None:
            raise ApiError(400, "Bad Request: user not found")
        return self._member(chat["id"], member)

    async def _api_getChatAdministrators(self, p: JSON) -> list[JSON]:
        chat = self._chat(p)
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = self._admins.get(chat["id"], [])
        known = [self.bot_user if i == self.bot_user["id"] else self.users.get(i) for i in ids]
        found = [
            u or {"id": i, "is_bot": False, "first_name": f"User{i}"} for i, u in zip(ids, known)
        ]
        return [self._member(chat["id"], u) for u in found]

    async def _api_getChat(self, p: JSON) -> JSON:
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return self._chat(p) | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    async def _api_close(self, p: JSON) -> bool:
        return True

    async def _api_logOut(self, p: JSON) -> bool:
        return True

    async def _api_deleteMessage(self, p: JSON) -> bool:
        msg = self._target(p, "delete")
        del self._messages[(msg["chat"]["id"], msg["message_id"])]
        self.deleted.append((msg["chat"]["id"], msg["message_id"]))
        return True

    async def _api_setMessageReaction(self, p: JSON) -> bool:
        msg = self._target(p, "react")
        self.reactions[(msg["chat"]["id"], msg["message_id"])] = p.get("reaction") or []
        return True

    # --------------------------------------------------------------------- update builders
    # Each builder returns the update dict and, unless queue=False, queues it for getUpdates.

    def push(self, update: JSON) -> JSON:
        """Queue an update; its update_id is (re)assigned so the queue stays ordered."""
        update["update_id"] = next(self._ids)
        self._queue.append(update)
        self._notify()
        return update

    def _update(self, payload: JSON, queue: bool) -> JSON:
        return self.push(payload) if queue else {"update_id": next(self._ids), **payload}

    def _incoming(self, chat: JSON | None, sender: JSON, fields: JSON) -> JSON:
        chat = self.add_chat(chat or private_chat(sender))
        return self._store(chat, sender, fields)

    def _resolve(self, message: JSON | SentMessage | int, chat_id: int) -> JSON:
        if isinstance(message, SentMessage):
            return self._messages[(message.chat_id, message.message_id)]
        if isinstance(message, int):
            return self._messages[(chat_id, message)]
        return self._messages.get((message["chat"]["id"], message["message_id"]), message)

    def private_text(
        self, user: JSON, text: str, language_code: str = "en", *, queue: bool = True
    ) -> JSON:
        sender = user | {"language_code": language_code}
        return self._update(
            {"message": self._incoming(None, sender, _with_entities(text, "entities"))}, queue
        )

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
        fields = _with_entities(text, "entities")
        if reply_to is not None:
            replied = self._resolve(reply_to, group_chat["id"])
            fields["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        if message_thread_id is not None:
            fields |= {"message_thread_id": message_thread_id, "is_topic_message": True}
        return self._update({"message": self._incoming(group_chat, user, fields)}, queue)

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
        cid = channel_id or -1_000_000_000_000 - zlib.crc32(
            (channel_username or channel_title).encode()
        )
        source = channel(cid, channel_title, channel_username)
        date = int(time.time()) - 60
        origin = {"type": "channel", "chat": source, "message_id": channel_post_id, "date": date}
        fields = _with_entities(text, "entities") | {
            "forward_origin": origin,
            "forward_from_chat": source,  # legacy pre-7.0 fields too
            "forward_from_message_id": channel_post_id,
            "forward_date": date,
        }
        return self._update({"message": self._incoming(None, user, fields)}, queue)

    def _media(self, kind: str, unique_id: str | None, content: bytes) -> JSON:
        mime = "image/jpeg" if kind == "photo" else "video/mp4"
        big = self._store_file(content, None, mime, kind, unique_id)
        if kind == "video":
            return {"video": big.as_api() | {"width": 1280, "height": 720, "duration": 10}}
        thumb = self._store_file(content[:32], None, mime, kind, f"{big.file_unique_id}-thumb")
        return {
            "photo": [
                thumb.as_api() | {"width": 90, "height": 90},
                big.as_api() | {"width": 1280, "height": 960},
            ]
        }

    def photo_with_caption(
        self,
        user: JSON,
        caption: str,
        file_unique_id: str | None = None,
        *,
        chat: JSON | None = None,
        content: bytes = b"\xff\xd8fake-jpeg\xff\xd9",
        queue: bool = True,
    ) -> JSON:
        fields = self._media("photo", file_unique_id, content) | _with_entities(
            caption, "caption_entities", "caption"
        )
        return self._update({"message": self._incoming(chat, user, fields)}, queue)

    def video_with_caption(
        self,
        user: JSON,
        caption: str,
        file_unique_id: str | None = None,
        *,
        chat: JSON | None = None,
        content: bytes = b"\x00\x00\x00\x18ftypmp42",
        queue: bool = True,
    ) -> JSON:
        fields = self._media("video", file_unique_id, content) | _with_entities(
            caption, "caption_entities", "caption"
        )
        return self._update({"message": self._incoming(chat, user, fields)}, queue)

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
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        fields: JSON = {
            "document": self._store_file(content_bytes, filename, mime, "document").as_api()
        }
        if caption:
            fields |= _with_entities(caption, "caption_entities", "caption")
        return self._update({"message": self._incoming(chat, user, fields)}, queue)

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
        """Album of `count` photos/videos sharing a media_group_id; the caption goes on the first."""
        group_id = str(10_000_000 + next(self._ids))
        updates = []
        for i in range(count):
            fields = self._media(kind, None, f"{kind}-{group_id}-{i}".encode()) | {
                "media_group_id": group_id
            }
            if caption and i == 0:
                fields |= _with_entities(caption, "caption_entities", "caption")
            updates.append(self._update({"message": self._incoming(chat, user, fields)}, queue))
        return updates

    def channel_post_auto_forward(
        self, discussion_group: JSON, channel: JSON, text: str, *, queue: bool = True
    ) -> JSON:
        """The copy of a channel post that Telegram puts in the channel's linked discussion group."""
        post_id = next(self._message_ids[channel["id"]])
        date = int(time.time())
        origin = {"type": "channel", "chat": channel, "message_id": post_id, "date": date}
        fields = _with_entities(text, "entities") | {
            "sender_chat": channel,
            "is_automatic_forward": True,
            "forward_origin": origin,
            "forward_from_chat": channel,
            "forward_from_message_id": post_id,
            "forward_date": date,
        }
        return self._update(
            {"message": self._incoming(discussion_group, SERVICE_USER, fields)}, queue
        )

    def callback_query(
        self, user: JSON, message: JSON | SentMessage, data: str, *, queue: bool = True
    ) -> JSON:
        msg = self._resolve(message, 0)
        query_id = str(4_000_000_000 + next(self._ids))
        self._open_queries.add(query_id)
        self.users.setdefault(user["id"], user)
        query = {
            "id": query_id,
            "from": user,
            "message": msg,
            "data": data,
            "chat_instance": str(zlib.crc32(str(msg["chat"]["id"]).encode())),
        }
        return self._update({"callback_query": query}, queue)

    def my_chat_member(
        self, chat: JSON, from_user: JSON, old_status: str, new_status: str, *, queue: bool = True
    ) -> JSON:
        """The bot's own membership changed, e.g. 'left' -> 'member' when added to a group."""
        if new_status in ("left", "kicked"):
            self._bot_gone.add(chat["id"])
        else:
            self.add_chat(chat)
        self.users.setdefault(from_user["id"], from_user)
        change = {
            "chat": chat,
            "from": from_user,
            "date": int(time.time()),
            "old_chat_member": self._member(chat["id"], self.bot_user, old_status),
            "new_chat_member": self._member(chat["id"], self.bot_user, new_status),
        }
        return self._update({"my_chat_member": change}, queue)

    def bot_added_to_group(self, chat: JSON, by: JSON, as_admin: bool = False) -> JSON:
        return self.my_chat_member(chat, by, "left", "administrator" if as_admin else "member")

    def bot_removed_from_group(self, chat: JSON, by: JSON) -> JSON:
        return self.my_chat_member(chat, by, "member", "left")


# ------------------------------------------------------------------------- entry points
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
async def running_application(app: Application, timeout: int = 1) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Initialize, start and long-poll `app`; tear down in reverse so no task or socket leaks."""
    await app.initialize()
    try:
        await app.start()
        try:
            await app.updater.start_polling(poll_interval=0, timeout=timeout)  # type: ignore[union-attr]
            try:
                yield app
            finally:
                await app.updater.stop()  # type: ignore[union-attr]
        finally:
            await app.stop()
    finally:
        await app.shutdown()


@pytest_asyncio.fixture(name="telegram_api")
async def telegram_api_fixture() -> AsyncIterator[FakeTelegram]:
    """`from telegram_api import telegram_api_fixture` in a conftest/test module provides `telegram_api`."""
    async with running_fake_telegram() as api:
        yield api
