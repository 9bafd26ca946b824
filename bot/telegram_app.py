"""The Telegram platform of `rumorbot run`: one python-telegram-bot Application, every handler
wired here, polling or (with WEBHOOK_URL) an aiohttp webhook, stopped by bot/app.py's event."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.config import Settings
from handlers import (
    telegram,
    telegram_buttons,
    telegram_groups,
    telegram_mod_entries,
    telegram_mod_menu,
    telegram_mod_queue,
)
from handlers.i18n import LANGS
from handlers.i18n_telegram import command_description
from handlers.render_telegram import ASK_BUTTONS, FEEDBACK_BUTTONS
from handlers.telegram_context import (
    Context,
    Services,
    TelegramApp,
    Tuning,
    services_type,
)
from handlers.telegram_limits import FloodLimits
from handlers.telegram_webhook import start_webhook_server, webhook_app
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

# PTB reads this whenever it builds a time period (a RetryAfter's retry_after among them); without
# it PTB 22 warns on every 429, and our tests turn warnings into errors.
os.environ.setdefault("PTB_TIMEDELTA", "true")

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open


def file_url(base_url: str) -> str:
    """TELEGRAM_API_BASE_URL's file-download twin: …/bot → …/file/bot."""
    base = base_url.rstrip("/")
    return base.removesuffix("/bot") + "/file/bot" if base.endswith("/bot") else base


def build_application(
    settings: Settings, kb: KnowledgeBase, tuning: Tuning | None = None
) -> TelegramApp:
    """The Application with every handler; nothing connects until initialize()."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    tuning = tuning or Tuning()
    context_types = ContextTypes(
        bot_data=services_type(
            kb,
            tuning,
            frozenset(settings.telegram_owner_ids),
            settings.telegram_moderator_chat_id,
        )
    )
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url.rstrip("/"))
        .base_file_url(file_url(settings.telegram_api_base_url))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),  # keep replies short
            )
        )
        .context_types(context_types)
        .concurrent_updates(tuning.concurrent_updates)
        .job_queue(None)
    )
    if settings.webhook_url:
        builder = builder.updater(None)  # our aiohttp server feeds the update queue
    app: TelegramApp
    if tuning.rate_limiter:
        limits = FloodLimits(
            tuning.max_retries, tuning.private_chat_rate, tuning.private_chat_burst
        )
        app = builder.rate_limiter(limits).build()
    else:
        app = builder.build()
    add_handlers(app)
    return app


def add_handlers(app: TelegramApp) -> None:
    # Order matters within group 0: the first handler whose filter matches takes the update,
    # so commands come first, then mentions, and group chatter (auto-reply) last.
    groups = filters.ChatType.GROUPS
    app.add_handler(CommandHandler("start", telegram.start_command))
    app.add_handler(CommandHandler("help", telegram.help_command))
    app.add_handler(CommandHandler("about", telegram.about_command))
    app.add_handler(CommandHandler("check", telegram_groups.check_command))
    app.add_handler(CommandHandler("autoreply", telegram_groups.autoreply_command))
    # Moderators' commands, conversations and buttons go before posts: /new's conversation
    # takes a moderator's next messages, and an /import file carries a caption.
    telegram_mod_entries.add_handlers(app)
    telegram_mod_queue.add_handlers(app)
    app.add_handler(CallbackQueryHandler(telegram_buttons.feedback_button, FEEDBACK_BUTTONS))
    app.add_handler(CallbackQueryHandler(telegram_buttons.ask_button, ASK_BUTTONS))
    app.add_handler(
        ChatMemberHandler(telegram_groups.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    posts = filters.TEXT | filters.CAPTION | filters.PHOTO | filters.VIDEO | filters.ANIMATION
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & posts & ~filters.COMMAND, telegram.private_post)
    )
    app.add_handler(
        MessageHandler(groups & telegram_groups.MENTIONS_BOT, telegram_groups.group_mention)
    )
    app.add_handler(
        MessageHandler(groups & posts & ~filters.COMMAND, telegram_groups.group_chatter)
    )
    app.add_error_handler(log_error)


async def log_error(update: object, context: Context) -> None:
    """Every failure of a handler or a background task ends here, logged with what it was."""
    where = update.update_id if isinstance(update, Update) else "a background task"
    error = context.error
    if isinstance(error, Forbidden):
        log.info("Telegram refused a message for update %s: %s", where, error.message)
    elif isinstance(error, RetryAfter):
        log.warning("Telegram flood control still refused after retries (update %s)", where)
    else:
        log.error("failed to handle update %s", where, exc_info=error)


async def publish_commands(app: TelegramApp) -> None:
    """The command menus Telegram shows, in each of our languages."""
    private = ["start", "help", "about", "check"]
    menus = (
        (BotCommandScopeAllPrivateChats(), private),
        (BotCommandScopeAllGroupChats(), ["check", "help"]),
        (BotCommandScopeAllChatAdministrators(), ["check", "autoreply", "help"]),
    )
    try:
        for scope, names in menus:
            for lang in ("", *LANGS):
                commands = [BotCommand(n, command_description(n, lang or "en")) for n in names]
                await app.bot.set_my_commands(commands, scope=scope, language_code=lang or None)
    except TelegramError as exc:  # the menu is a convenience: the bot works without it
        log.warning("could not publish the command menu: %s", exc)
    await telegram_mod_menu.publish_moderator_menus(app)


class _Redact(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if (clean := self._clean(message)) != message:
            record.msg, record.args = clean, ()
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


@contextmanager
def redacted(*secrets: str) -> Iterator[None]:
    """Keep secrets out of every log line, whichever library writes it.

    PTB logs its API URL (token included) at DEBUG and puts the token into InvalidToken's
    message; it logs request parameters (the webhook secret among them) at DEBUG; httpx logs
    request URLs at INFO. bot/cli.py quiets httpx, this catches the rest.
    """
    handlers = list(logging.getLogger().handlers)
    guard = _Redact(tuple(s for s in secrets if s))
    for handler in handlers:
        handler.addFilter(guard)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(guard)


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or a random one: Telegram repeats it in every request it sends us."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return secrets.token_urlsafe(32)


async def run_telegram(
    settings: Settings, kb: KnowledgeBase, stop: asyncio.Event, *, tuning: Tuning | None = None
) -> None:
    """Answer Telegram updates until `stop`; return early, after one log line, when we cannot."""
    if settings.telegram_bot_token is None:
        log.error("Telegram not started: set TELEGRAM_BOT_TOKEN (from @BotFather)")
        return
    secret = webhook_secret(settings)
    with redacted(settings.telegram_bot_token.get_secret_value(), secret):
        await serve(build_application(settings, kb, tuning), settings, stop, secret=secret)


async def serve(
    app: TelegramApp, settings: Settings, stop: asyncio.Event, *, secret: str | None = None
) -> None:
    """Run a built application until `stop`: initialize, start, receive updates, tear down.

    `secret` is the webhook's secret token (made up when None); polling ignores it.
    """
    try:
        await app.initialize()
    except InvalidToken:
        log.error("Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather")
        await app.bot.shutdown()  # a failed initialize() leaves the HTTP clients open
        return
    except TelegramError as exc:
        log.error(
            "cannot reach the Telegram Bot API at %s: %s", settings.telegram_api_base_url, exc
        )
        await app.bot.shutdown()
        return
    async with AsyncExitStack() as running:
        running.push_async_callback(app.shutdown)
        await app.start()
        running.push_async_callback(app.stop)
        services: Services = app.bot_data
        running.callback(services.batches.close)  # answer collected forwards before stop()
        try:
            mode = await _receive_updates(
                app, settings, secret or webhook_secret(settings), running
            )
        except (OSError, TelegramError) as exc:
            log.error("Telegram not started: cannot receive updates: %s", exc)
            return
        app.create_task(publish_commands(app))
        log.info("Telegram: @%s is answering (%s)", app.bot.username, mode)
        await stop.wait()
        log.info("Telegram: stopping")


async def _receive_updates(
    app: TelegramApp, settings: Settings, secret: str, running: AsyncExitStack
) -> str:
    if not settings.webhook_url:
        assert app.updater is not None  # built with an updater unless WEBHOOK_URL is set
        await app.updater.start_polling(timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        running.push_async_callback(app.updater.stop)
        return "polling"
    path = urlsplit(settings.webhook_url).path or "/"
    server = webhook_app(app.bot, app.update_queue, path, secret)
    runner = await start_webhook_server(server, settings.webhook_listen, settings.webhook_port)
    running.push_async_callback(runner.cleanup)
    await app.bot.set_webhook(
        settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
    )
    return f"webhook on {settings.webhook_listen}:{settings.webhook_port}{path}"
