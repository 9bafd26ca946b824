"""Posts answered per second end-to-end through the local Bot API stand-in, and the latency the
bot adds, with python-telegram-bot polling, with and without the flood limiter, with one and
with two embedding threads (EMBED_THREADS).

    python bench/throughput.py [--users 100] [--posts 2] [--threads 1 2]

For each mode the bot (bot.telegram_app, the real PTB Application) runs against
tests/telegram_api.py's FakeTelegram on a copy of a database holding the embedded seed KB.
Posts are the 250 distinct posts of tests/data (five languages, a quarter long channel posts,
a third matching nothing), so no answer is a repeat of another:
- idle latency: posts sent one at a time, time from the update being queued to the reply
  arriving at the stand-in;
- saturated: users × posts private posts queued at once (half rumours, half chatter); posts
  answered per second from the first update queued to the last reply, and the latency of each;
- limits: one user sending 8 posts and 25 people asking in one group at once; then every
  chat's sends are checked against Telegram's limits (30 messages a second overall, 20 a
  minute per group, about one a second per private chat after a short burst).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PTB_TIMEDELTA", "true")

from pydantic import SecretStr

from bench.evalset import evaluation_post_texts
from bot.config import Settings
from bot.telegram_app import build_application, serve
from handlers.telegram_context import Tuning
from kb.db import open_database
from kb.embed import default_embedder
from kb.service import KnowledgeBase
from tests.telegram_api import ApiCall, FakeTelegram, group, running_fake_telegram, user

VIRAL = (
    "СРОЧНО!!! Казахстан отправляет в Россию эшелоны с бронетехникой, видео с трассы "
    "под Уральском. Перешлите всем, пока не удалили!"
)
GROUP_LIMIT, OVERALL_LIMIT = 20, 30  # per group per minute; overall per second
PRIVATE_RATE, PRIVATE_BURST = 1.0, 3  # per private chat, as bot.telegram_app's limiter paces


@dataclass
class Run:
    mode: str
    posts: int
    seconds: float
    latencies: list[float]
    idle: list[float]
    sends: list[ApiCall]
    wave_rate: float  # answered/s when everybody forwards the same post


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def reply_time(api: FakeTelegram, chat_id: int, message_id: int) -> float | None:
    for call in api.calls_to("sendMessage"):
        target = (call.params.get("reply_parameters") or {}).get("message_id")
        if call.params.get("chat_id") == chat_id and target == message_id:
            return call.time
    return None


async def wait_for_replies(api: FakeTelegram, sent: list[tuple[int, int, float]]) -> list[float]:
    """Latency of each (chat, message, queued at) once all are answered."""
    deadline = time.monotonic() + 300
    while True:
        times = [reply_time(api, chat, message) for chat, message, _ in sent]
        if all(t is not None for t in times):
            return [t - queued for t, (_, _, queued) in zip(times, sent, strict=True) if t]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(t is None for t in times)} posts never answered")
        await asyncio.sleep(0.05)


def push_private(api: FakeTelegram, who: dict[str, Any], text: str) -> tuple[int, int, float]:
    queued = time.monotonic()
    message = api.private_text(who, text)["message"]
    return who["id"], message["message_id"], queued


async def measure(template: Path, limiter: bool, threads: int, users: int, posts: int) -> Run:
    workdir = Path(tempfile.mkdtemp(prefix="tg-bench-"))
    shutil.copy(template, workdir / "kb.db")
    db_url = f"sqlite:///{workdir / 'kb.db'}"
    async with running_fake_telegram() as api, open_database(db_url) as sessions:
        kb = KnowledgeBase(sessions, default_embedder(threads), workers=threads)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            embed_threads=threads,
            telegram_bot_token=SecretStr(api.token),
            telegram_api_base_url=f"{api.url}/bot",
            database_url=db_url,
        )
        app = build_application(settings, kb, Tuning(rate_limiter=limiter))
        stop = asyncio.Event()
        task = asyncio.create_task(serve(app, settings, stop))
        try:
            await api.wait_for_calls("getUpdates", timeout=60)
            texts = itertools.cycle(evaluation_post_texts())
            ids = itertools.count(10_000)
            for _ in range(3):  # warm up: first embeddings, connection pool
                await wait_for_replies(api, [push_private(api, user(next(ids), "W"), next(texts))])
            idle = []
            for _ in range(40):
                idle += await wait_for_replies(
                    api, [push_private(api, user(next(ids), "I"), next(texts))]
                )
            crowd = [user(next(ids), f"U{n}") for n in range(users)]
            start = time.monotonic()
            burst = [push_private(api, u, next(texts)) for _ in range(posts) for u in crowd]
            latencies = await wait_for_replies(api, burst)
            seconds = max(latencies[i] + burst[i][2] for i in range(len(burst))) - start
            # A viral wave: one post, new to the bot, forwarded by as many people at once.
            wave_start = time.monotonic()
            wave = [push_private(api, user(next(ids), f"V{n}"), VIRAL) for n in range(users)]
            wave_latency = await wait_for_replies(api, wave)
            wave_seconds = max(w[2] + t for w, t in zip(wave, wave_latency, strict=True))
            wave_rate = users / (wave_seconds - wave_start)
            flooder = user(next(ids), "F")
            checks = [push_private(api, flooder, next(texts)) for _ in range(8)]
            room = group(-1009000000001, "Busy group")
            for n in range(25):
                asker = user(next(ids), f"G{n}")
                queued = time.monotonic()
                message = api.group_text(asker, room, f"@rumor_test_bot {next(texts)}")["message"]
                checks.append((room["id"], message["message_id"], queued))
            await wait_for_replies(api, checks)
            sends = [c for c in api.calls_to("sendMessage") if c.time >= start]
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            kb.close()
            shutil.rmtree(workdir, ignore_errors=True)
    mode = f"limiter {'on' if limiter else 'off'}, {threads} thread{'s' if threads > 1 else ''}"
    return Run(mode, users * posts, seconds, latencies, idle, sends, wave_rate)


def worst_window(times: Sequence[float], window: float) -> int:
    """The most sends in any `window` seconds."""
    ordered, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def limit_report(sends: Sequence[ApiCall]) -> tuple[str, bool]:
    per_chat: defaultdict[int, list[float]] = defaultdict(list)
    for call in sends:
        per_chat[int(call.params["chat_id"])].append(call.time)
    overall = worst_window([c.time for c in sends], 1.0)
    groups = max((worst_window(t, 60.0) for c, t in per_chat.items() if c < 0), default=0)
    # About one a second after a burst: at most burst + rate × window in any 10 s.
    private = max((worst_window(t, 10.0) for c, t in per_chat.items() if c > 0), default=0)
    private_cap = PRIVATE_BURST + int(PRIVATE_RATE * 10)
    ok = overall <= OVERALL_LIMIT and groups <= GROUP_LIMIT and private <= private_cap
    text = (
        f"busiest second {overall} (limit {OVERALL_LIMIT}), busiest group minute {groups} "
        f"(limit {GROUP_LIMIT}), busiest private chat 10 s {private} (limit {private_cap})"
    )
    return text, ok


async def seed_template(folder: Path) -> Path:
    template = folder / "seed.db"
    async with open_database(f"sqlite:///{template}") as sessions:
        kb = KnowledgeBase(sessions, default_embedder())
        try:
            await kb.seed()
        finally:
            kb.close()
    return template


async def main(users: int, posts: int, threads: Sequence[int]) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        template = await seed_template(Path(folder))
        runs = [
            await measure(template, limiter, n, users, posts)
            for n in threads
            for limiter in (False, True)
        ]
    print(
        f"Telegram end-to-end through the local Bot API stand-in ({os.cpu_count()} cores, "
        "seed KB, polling, stand-in in the same process; "
        "latency = update queued -> reply received by the stand-in)"
    )
    print(
        f"{'mode':<24} {'idle p50':>9} {'idle p99':>9} {'posts':>6} {'answered/s':>11} "
        f"{'sat. p50':>9} {'sat. p99':>9} {'viral/s':>8}"
    )
    compliant = True
    for run in runs:
        ms = [round(1000 * percentile(v, p)) for v in (run.idle,) for p in (50, 99)]
        sat = [round(1000 * percentile(run.latencies, p)) for p in (50, 99)]
        print(
            f"{run.mode:<24} {ms[0]:>7}ms {ms[1]:>7}ms {run.posts:>6} "
            f"{run.posts / run.seconds:>11.1f} {sat[0]:>7}ms {sat[1]:>7}ms {run.wave_rate:>8.1f}"
        )
    for run in runs:
        text, ok = limit_report(run.sends)
        print(f"Telegram limits, {run.mode}: {text}: {'within' if ok else 'EXCEEDED'}")
        compliant &= ok or run.mode.startswith("limiter off")
    print(
        f"idle: 40 posts one at a time; saturated: {runs[0].posts} distinct posts queued at "
        "once; viral: one post from as many users at once; "
        "limits: then 8 posts from one user and 25 asks in one group at once"
    )
    return 0 if compliant else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100, help="private chats in the burst")
    parser.add_argument("--posts", type=int, default=2, help="posts per user in the burst")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="EMBED_THREADS")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.users, args.posts, args.threads)))
