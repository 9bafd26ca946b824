"""Moderators' commands for entries (/edit, /source, /translate, /variant, /media, /publish,
/archive, /show, /find, /history, /export, /import) and owners' /mod.

Each command reads its arguments, calls kb.editing in one transaction and answers with the
result; a malformed command answers with its usage and changes nothing. The /new conversation
lives in handlers/telegram_mod_new.py; /translate's second message, like /new's steps, reaches
us through handlers/telegram_mod_conversation.py, which keeps what it waits for in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Message, MessageOriginUser, Update, User
from telegram.ext import CommandHandler, MessageHandler, filters

from handlers import render_entries as views
from handlers import telegram_mod_conversation, telegram_mod_menu, telegram_mod_new
from handlers.telegram_context import Context, TelegramApp
from handlers.telegram_mod_access import Handler, actor, allowed, moderator_only, owner_only
from handlers.telegram_mod_conversation import where
from handlers.telegram_notify import Notice, claim_askers, tell_askers_after
from handlers.telegram_posts import media_ids
from handlers.telegram_send import reply_to
from kb import editing, roles, store
from kb.conversations import Conversation
from kb.errors import BadImportFile, KbError
from kb.interchange import read_entries_text
from kb.models import Status

log = logging.getLogger(__name__)

USAGE = {
    "mod": "/mod add USER_ID [name] (or /mod add replying to the person's message), "
    "/mod remove USER_ID, /mod list",
    "edit": f"/edit ID FIELD VALUE (fields: {', '.join(editing.EDITABLE)})",
    "source": "/source ID URL [title]",
    "translate": "/translate ID LANG, then the claim on the next line and the summary below it",
    "variant": "/variant ID, replying to the post",
    "media": "/media ID, replying to the photo or video",
    "publish": "/publish ID",
    "archive": "/archive ID",
    "show": "/show ID",
    "find": "/find TEXT (or /find replying to a post)",
    "history": "/history ID",
    "export": "/export [yaml|json|claimreview]",
    "import": "send a YAML, JSON or ClaimReview file with the caption /import",
}
IMPORT_LIMIT = 10 * 1024 * 1024  # bytes; a KB file is text, far smaller than this
IMPORT_CAPTION = r"^/import(@\w+)?\s*$"
TRANSLATION = "translate"  # /translate's one step: waiting for the claim and the summary


def _words(message: Message, parts: int) -> list[str]:
    """The command's arguments, the last one keeping its spaces and line breaks."""
    return (message.text or message.caption or "").split(maxsplit=parts)[1:]


async def _usage(message: Message, command: str) -> None:
    await reply_to(message, views.usage(USAGE[command]))


async def _change(
    message: Message, context: Context, work: Callable[[AsyncSession], Awaitable[bool]]
) -> bool | None:
    """Run one change in a transaction: whether it changed anything, None (told) if refused."""
    try:
        async with context.bot_data.kb.sessions() as session:
            changed = await work(session)
            await session.commit()
    except KbError as exc:
        await reply_to(message, views.note(f"Nothing changed: {exc}."))
        return None
    return changed


async def _done(message: Message, changed: bool | None, done: str, same: str) -> None:
    if changed is not None:
        await reply_to(message, views.note(done if changed else same))


# --- owners: the moderators' list --------------------------------------------------------------


def _replied_user(message: Message) -> User | None:
    """Whom an owner means by replying: a forward's author, else the replied message's sender."""
    replied = message.reply_to_message
    if replied is None:
        return None
    if isinstance(replied.forward_origin, MessageOriginUser):
        return replied.forward_origin.sender_user
    user = replied.from_user
    return user if user is not None and not user.is_bot else None


@owner_only
async def mod_command(update: Update, context: Context) -> None:
    """/mod add|remove|list: owners manage who may change the KB."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    args = context.args or []
    sub = args[0].lower() if args else ""
    services = context.bot_data
    if sub == "list" and len(args) == 1:
        async with services.kb.sessions() as session:
            mods = await roles.moderators(session)
        await reply_to(message, views.moderators(sorted(services.roles.owners), mods))
        return
    if sub not in ("add", "remove"):
        await _usage(message, "mod")
        return
    target: tuple[int, str] | None = None
    if len(args) >= 2 and args[1].isdigit():
        target = int(args[1]), " ".join(args[2:])
    elif len(args) == 1 and (user := _replied_user(message)) is not None:
        handle = f" @{user.username}" if user.username else ""
        target = user.id, f"{user.full_name}{handle}"
    elif message.reply_to_message and message.reply_to_message.forward_origin:
        hidden = "Their forwards do not show who they are: use /mod add USER_ID."
        await reply_to(message, views.note(hidden))
        return
    if target is None:
        await _usage(message, "mod")
        return
    user_id, name = target[0], target[1][:200]  # the moderator table's limit
    who = actor(update.effective_user)
    if sub == "add":
        if services.roles.is_owner(user_id):
            await reply_to(message, views.note(f"{user_id} is an owner, and owners moderate."))
            return
        changed = await _change(
            message, context, lambda s: roles.add_moderator(s, user_id, name, who)
        )
        if changed:
            await telegram_mod_menu.show_menu(context.bot, user_id)
        await _done(message, changed, f"{user_id} is now a moderator.", "Already a moderator.")
    else:
        changed = await _change(message, context, lambda s: roles.remove_moderator(s, user_id, who))
        if changed:
            await telegram_mod_menu.hide_menu(context.bot, user_id)
        await _done(message, changed, f"{user_id} is no longer a moderator.", "Not a moderator.")


# --- entries --------------------------------------------------------------------------------------


@moderator_only
async def edit_command(update: Update, context: Context) -> None:
    """/edit ID FIELD VALUE."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    if len(args := _words(message, 3)) != 3:
        await _usage(message, "edit")
        return
    entry_id, name, value = args
    who = actor(update.effective_user)
    changed = await _change(message, context, lambda s: editing.edit(s, entry_id, name, value, who))
    await _done(message, changed, f"{entry_id}: {name} changed.", f"{entry_id}: {name} was so.")


@moderator_only
async def source_command(update: Update, context: Context) -> None:
    """/source ID URL [title]."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    if len(args := _words(message, 2)) != 2:
        await _usage(message, "source")
        return
    entry_id, line = args
    who = actor(update.effective_user)
    try:
        source = editing.parse_source(line)
    except editing.BadEdit as exc:
        await reply_to(message, views.note(f"Nothing changed: {exc}."))
        return
    changed = await _change(
        message, context, lambda s: editing.add_source(s, entry_id, source, who)
    )
    await _done(message, changed, f"{entry_id}: source added.", f"{entry_id} already cites it.")


def _translation(text: str) -> tuple[str, str] | None:
    """The claim (first line) and the summary (the lines below) of a translation."""
    claim, _, summary = text.strip().partition("\n")
    return (claim.strip(), summary.strip()) if claim.strip() and summary.strip() else None


async def _translate(
    message: Message, context: Context, user: User, target: tuple[str, str], text: str
) -> None:
    (entry_id, lang), parsed = target, _translation(text)
    if parsed is None:
        await _usage(message, "translate")
        return
    claim, summary = parsed
    who = actor(user)
    changed = await _change(
        message, context, lambda s: editing.translate(s, entry_id, lang, claim, summary, who)
    )
    await _done(message, changed, f"{entry_id}: {lang} translation saved.", "It already read so.")


async def translate_command(update: Update, context: Context) -> None:
    """/translate ID LANG, with the text below it or in the next message."""
    message, user, at = update.effective_message, update.effective_user, where(update)
    if message is None or user is None or at is None or not await allowed(update, context):
        return
    head, _, body = (message.text or "").partition("\n")
    if len(args := head.split()[1:]) != 2:
        await _usage(message, "translate")
        return
    target = (args[0], args[1].lower())
    if body.strip():
        await _translate(message, context, user, target, body)
        return
    async with context.bot_data.kb.sessions() as session:
        if await store.get_entry(session, target[0]) is None:
            await reply_to(message, views.note(f"Nothing changed: no entry with id {target[0]!r}."))
            return
    # Saved before asking: the next message may reach another worker. It replaces a /new in
    # progress in this chat: one conversation at a time.
    data = {"entry_id": target[0], "lang": target[1]}
    await telegram_mod_conversation.keep(context, at, TRANSLATION, data)
    prompt = f"Send the {target[1]} claim on the first line and the summary below it (or /cancel)."
    await reply_to(message, views.note(prompt))


async def translation_text(update: Update, context: Context, conversation: Conversation) -> None:
    """The message after /translate ID LANG: the claim, then the summary."""
    message, user, at = update.effective_message, update.effective_user, where(update)
    if message is None or user is None or at is None:
        return
    ended = await telegram_mod_conversation.finish(context, at, TRANSLATION)
    if ended is None or not await allowed(update, context):
        return  # ended meanwhile (/cancel, perhaps on another worker), or no moderator now
    target = (str(ended.data.get("entry_id", "")), str(ended.data.get("lang", "")))
    await _translate(message, context, user, target, message.text or "")


def _replied_text(message: Message) -> str:
    replied = message.reply_to_message
    return (replied.text or replied.caption or "") if replied is not None else ""


@moderator_only
async def variant_command(update: Update, context: Context) -> None:
    """/variant ID replying to a post: the post becomes a phrasing of the entry."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    replied = message.reply_to_message
    if len(args := _words(message, 1)) != 1 or replied is None or not _replied_text(message):
        await _usage(message, "variant")
        return
    if replied.from_user is not None and replied.from_user.id == context.bot.id:
        await reply_to(message, views.note("Reply to the post itself, not to my answer."))
        return
    entry_id, text, who = args[0], _replied_text(message), actor(update.effective_user)
    changed = await _change(
        message, context, lambda s: editing.add_phrasing(s, entry_id, text, who)
    )
    await _done(
        message, changed, f"{entry_id}: phrasing added; it matches from now on.", "Already known."
    )


@moderator_only
async def media_command(update: Update, context: Context) -> None:
    """/media ID replying to a photo or video: the same file then matches the entry exactly."""
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    # A photo's every size travels with each post: its largest (listed last) is enough.
    found = media_ids(message.reply_to_message) if message.reply_to_message else []
    unique_id = found[-1] if found else None
    if len(args := _words(message, 1)) != 1 or unique_id is None:
        await _usage(message, "media")
        return
    entry_id, who = args[0], actor(update.effective_user)
    changed = await _change(
        message, context, lambda s: editing.attach_media(s, entry_id, unique_id, who)
    )
    await _done(message, changed, f"{entry_id}: media attached.", "Already attached to it.")


async def _set_status(update: Update, context: Context, command: str, status: Status) -> None:
    if (message := update.effective_message) is None or update.effective_user is None:
        return
    if len(args := context.args or []) != 1:
        await _usage(message, command)
        return
    entry_id, who = args[0], actor(update.effective_user)
    changed = await _change(
        message, context, lambda s: editing.set_status(s, entry_id, status, who)
    )
    if changed and status is Status.PUBLISHED:
        notices = await claim_askers(context, entry_id)
        extra = f" Telling {len(notices)} who asked." if notices else ""
        with tell_askers_after(context, notices):
            await reply_to(message, views.note(f"{entry_id} is published.{extra}"))
        return
    await _done(message, changed, f"{entry_id} is {status.value}.", f"Already {status.value}.")


@moderator_only
async def publish_command(update: Update, context: Context) -> None:
    await _set_status(update, context, "publish", Status.PUBLISHED)


@moderator_only
async def archive_command(update: Update, context: Context) -> None:
    await _set_status(update, context, "archive", Status.ARCHIVED)


@moderator_only
async def show_command(update: Update, context: Context) -> None:
    if (message := update.effective_message) is None:
        return
    if len(args := context.args or []) != 1:
        await _usage(message, "show")
        return
    async with context.bot_data.kb.sessions() as session:
        entry = await store.get_entry(session, args[0])
        media = await store.entry_media(session, args[0]) if entry else []
    if entry is None:
        await reply_to(message, views.note(f"No entry with id {args[0]!r}."))
        return
    await reply_to(message, views.entry_card(entry, media))


@moderator_only
async def find_command(update: Update, context: Context) -> None:
    """/find TEXT: the five closest published entries with the matcher's confidence."""
    if (message := update.effective_message) is None:
        return
    args = _words(message, 1)
    query = args[0] if args else _replied_text(message)
    if not query.strip():
        await _usage(message, "find")
        return
    kb = context.bot_data.kb
    result = await kb.match(query, top=5, exact_scores=True)
    async with kb.sessions() as session:
        entries = [await store.get_entry(session, c.entry_id) for c in result.candidates]
    claims = {e.id: e.claim for e in entries if e is not None}
    await reply_to(message, views.found(query, result, claims))


@moderator_only
async def history_command(update: Update, context: Context) -> None:
    if (message := update.effective_message) is None:
        return
    if len(args := context.args or []) != 1:
        await _usage(message, "history")
        return
    try:
        async with context.bot_data.kb.sessions() as session:
            lines = await editing.history(session, args[0])
    except KbError as exc:
        await reply_to(message, views.note(f"{exc}."))
        return
    await reply_to(message, views.history(args[0], lines))


@moderator_only
async def export_command(update: Update, context: Context) -> None:
    """/export [yaml|json|claimreview]: the whole KB as a file."""
    if (message := update.effective_message) is None:
        return
    args = context.args or []
    fmt = args[0].lower() if args else "yaml"
    if len(args) > 1 or fmt not in editing.EXPORT_FORMATS:
        await _usage(message, "export")
        return
    async with context.bot_data.kb.sessions() as session:
        entries = await store.list_entries(session)
    data = editing.export_text(entries, fmt).encode()
    ext = "yaml" if fmt == "yaml" else "json"
    name = f"kb-{datetime.now(UTC):%Y%m%d-%H%M}{'-claimreview' if fmt == 'claimreview' else ''}"
    await message.reply_document(
        data, filename=f"{name}.{ext}", caption=f"{len(entries)} entries", do_quote=True
    )


@moderator_only
async def import_document(update: Update, context: Context) -> None:
    """A file with the caption /import: validated whole, then saved in one transaction."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    document = message.document
    if document is None:
        await _usage(message, "import")
        return
    name = document.file_name or "the file"
    if (document.file_size or 0) > IMPORT_LIMIT:
        await reply_to(message, views.import_refused(f"{name} is larger than 10 MB."))
        return
    data = await (await document.get_file()).download_as_bytearray()
    try:
        entries = read_entries_text(bytes(data).decode("utf-8"), name)
    except UnicodeDecodeError:
        await reply_to(message, views.import_refused(f"{name} is not UTF-8 text."))
        return
    except BadImportFile as exc:
        await reply_to(message, views.import_refused(str(exc)))
        return
    kb = context.bot_data.kb
    report = await kb.import_entries(entries, actor(user))
    log.info("user %s imported %s: %s", user.id, name, report)
    changed = set(report.created) | set(report.updated)
    notices: list[Notice] = []
    for entry in entries:
        if entry.id in changed and entry.status is Status.PUBLISHED:
            notices += await claim_askers(context, entry.id)
    with tell_askers_after(context, notices):
        await reply_to(message, views.import_report(name, report))


def add_handlers(app: TelegramApp) -> None:
    """Register this module's handlers; called before the private-post handler."""
    # A conversation waiting for the moderator's next message takes it before anything else.
    steps = {**telegram_mod_new.STEPS, TRANSLATION: (filters.TEXT, translation_text)}
    telegram_mod_conversation.add_handlers(app, steps)
    telegram_mod_new.add_handlers(app)
    commands: dict[str, Handler] = {
        "mod": mod_command,
        "translate": translate_command,
        "edit": edit_command,
        "source": source_command,
        "variant": variant_command,
        "media": media_command,
        "publish": publish_command,
        "archive": archive_command,
        "show": show_command,
        "find": find_command,
        "history": history_command,
        "export": export_command,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback))
    app.add_handler(
        MessageHandler(filters.Document.ALL & filters.CaptionRegex(IMPORT_CAPTION), import_document)
    )
