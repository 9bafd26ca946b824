"""Running the Telegram bot: polling and webhook modes, bad tokens, and `rumorbot run` itself."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.telegram_app import file_url, redacted, run_telegram
from tests.conftest import TelegramHarness
from tests.telegram_api import SentMessage, running_fake_telegram, user

# Every connection stays on this machine: the Bot API stand-in and the bot's own webhook.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

ALICE = user(1001, "Alice", "alice")
RUMOUR = (
    "Kazakhstan is secretly sending trains full of tanks and armoured vehicles to Russia "
    "for the war, look at this video"
)
CHATTER = "Anyone up for football on Saturday? The weather looks great and the pitch is free"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def links(reply: SentMessage) -> list[str]:
    return [e["url"] for e in reply.entities if e["type"] == "text_link"]


def test_file_url_follows_the_api_base_url() -> None:
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


async def test_webhook_takes_updates_only_with_the_secret(telegram: TelegramHarness) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    await telegram.start(
        webhook_url=url,
        webhook_secret="s3cret_Token-1",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    [registered] = telegram.api.calls_to("setWebhook")
    assert (registered.params["url"], registered.params["secret_token"]) == (url, "s3cret_Token-1")
    update = telegram.api.private_text(ALICE, RUMOUR, queue=False)

    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update) as missing:
            assert missing.status == 403
        async with http.post(url, json=update, headers={SECRET_HEADER: "guess"}) as wrong:
            assert wrong.status == 403
        async with http.post(url, data=b"{", headers={SECRET_HEADER: "s3cret_Token-1"}) as junk:
            assert junk.status == 400
        async with http.post(url, json=update, headers={SECRET_HEADER: "s3cret_Token-1"}) as ok:
            assert ok.status == 200

    [reply] = await telegram.api.wait_for_sent(1, timeout=15)
    assert reply.plain_text.startswith("❌ False")
    assert telegram.api.calls_to("getUpdates") == []


async def test_webhook_without_a_configured_secret_makes_one(telegram: TelegramHarness) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    await telegram.start(webhook_url=url, webhook_listen="127.0.0.1", webhook_port=port)
    secret = telegram.api.calls_to("setWebhook")[0].params["secret_token"]
    update = telegram.api.private_text(ALICE, RUMOUR, queue=False)

    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update) as refused:
            assert refused.status == 403
        async with http.post(url, json=update, headers={SECRET_HEADER: secret}) as ok:
            assert ok.status == 200

    assert len(secret) >= 32
    await telegram.api.wait_for_sent(1, timeout=15)


async def test_rejected_token_stops_telegram_with_one_line_and_no_token(
    telegram: TelegramHarness, caplog: pytest.LogCaptureFixture
) -> None:
    settings = telegram.settings(telegram_bot_token="999:WRONG-secret-token")
    caplog.set_level(logging.DEBUG)

    await asyncio.wait_for(run_telegram(settings, telegram.kb, asyncio.Event()), 10)

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather"]
    assert "WRONG-secret-token" not in caplog.text


async def test_run_telegram_logs_neither_token_nor_webhook_secret(
    telegram: TelegramHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # PTB logs its URL and every request's parameters here
    port = free_port()
    settings = telegram.settings(
        webhook_url=f"http://127.0.0.1:{port}/hook",
        webhook_secret="hook-secret-123",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_telegram(settings, telegram.kb, stop))
    await telegram.api.wait_for_calls("setWebhook", timeout=10)
    stop.set()
    await asyncio.wait_for(running, 15)

    assert f"Telegram: @rumor_test_bot is answering (webhook on 127.0.0.1:{port}/hook)" in (
        caplog.text
    )
    assert "Calling Bot API endpoint `setWebhook`" in caplog.text
    assert "hook-secret-123" not in caplog.text
    assert telegram.api.token.split(":")[1] not in caplog.text


def test_the_token_is_redacted_from_every_log_line(caplog: pytest.LogCaptureFixture) -> None:
    token = "123456:SECRET-token"
    with redacted(token):
        logging.getLogger("httpx").warning("HTTP Request: POST https://x/bot%s/getMe", token)
        try:
            raise RuntimeError(f"The token `{token}` was rejected by the server.")
        except RuntimeError:
            logging.getLogger("telegram.ext").exception("initialize failed")

    assert token not in caplog.text
    assert caplog.text.count("<secret>") == 2


KB_FILE = """
entries:
  - id: almaty-water
    claim: "Foreign agents have poisoned the city water supply in Almaty."
    variants:
      - "Do not drink tap water in Almaty, foreign agents poisoned the reservoir last night!"
    verdict: false
    summary: "Almaty's water utility tests the water every day and found nothing harmful."
    lang: en
    sources:
      - url: "https://factcheck.example.org/almaty-water-poisoning"
        title: "No poison in Almaty's water"
"""


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The test's environment without any bot setting, plus `values`."""
    prefixes = ("TELEGRAM_", "WEBHOOK_", "X_", "DATABASE_URL", "LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"} | values


async def rumorbot(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 180)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return int(proc.returncode or 0), out.decode()


async def test_rumorbot_run_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    code, out = await rumorbot(tmp_path, clean_env(tmp_path), "run")

    assert code == 2
    assert "TELEGRAM_BOT_TOKEN" in out and len(out.strip().splitlines()) == 1


async def test_rumorbot_run_answers_a_forwarded_rumour_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    (tmp_path / "kb.yaml").write_text(KB_FILE, encoding="utf-8")
    code, out = await rumorbot(tmp_path, clean_env(tmp_path), "kb", "import", "kb.yaml")
    assert code == 0, out
    log_file = tmp_path / "rumorbot.log"
    async with running_fake_telegram() as api:
        env = clean_env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_BASE_URL=f"{api.url}/bot",
            LOG_LEVEL="DEBUG",
        )
        with log_file.open("wb") as log:
            run = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=log,
            )
            try:
                await api.wait_for_calls("getUpdates", timeout=120)
                api.forwarded_from_channel(
                    ALICE,
                    "Do not drink tap water in Almaty, foreign agents poisoned the "
                    "reservoir last night!",
                    "City <News> & more",
                    "citynews",
                    12,
                )
                [rebuttal] = await api.wait_for_sent(1, timeout=30)
                api.private_text(ALICE, CHATTER)
                api.private_text(ALICE, "<b>bold</b> & <i>AT&T</i> <3 " * 40)
                _, chatter, specials = await api.wait_for_sent(3, timeout=30)
                run.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(run.wait(), 30)
            finally:
                if run.returncode is None:
                    run.kill()
                    await run.wait()
    logged = log_file.read_text(encoding="utf-8")

    assert "https://factcheck.example.org/almaty-water-poisoning" in links(rebuttal)
    assert "https://t.me/citynews/12" in links(rebuttal)
    assert "not found this in our knowledge base" in chatter.plain_text and not links(chatter)
    assert specials.parse_mode == "HTML"  # accepted by the stand-in's strict HTML check
    assert code == 0, logged
    assert api.token not in logged and api.token.split(":")[1] not in logged
