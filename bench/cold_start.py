"""Cold start: seconds from launching `rumorbot run` until the first Telegram update is answered.

    python bench/cold_start.py [--runs 3]

A post waits in the local Bot API stand-in (tests/telegram_api.py, real HTTP on 127.0.0.1)
before the bot starts; the clock runs from spawning the `rumorbot run` process to the reply
reaching the stand-in. Two cases, each in a fresh process:
- first run: an empty SQLite file, so the bot migrates, loads the seed KB and embeds it;
- restart: the same file again, everything stored, so the bot only loads vectors and indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.telegram_api import running_fake_telegram, user  # noqa: E402

POST = "Kazakhstan is secretly sending trains full of tanks to Russia, look at this video"


async def one_start(db_url: str) -> float:
    """Seconds until the waiting post is answered, from a new `rumorbot run` process."""
    async with running_fake_telegram() as api:
        asker = user(4242, "Cold")
        message = api.private_text(asker, POST)["message"]
        env = os.environ | {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": f"{api.url}/bot",
            "DATABASE_URL": db_url,
            "OMP_NUM_THREADS": "1",
            "LOG_LEVEL": "WARNING",
        }
        # The script installed beside this interpreter, when the venv is not on PATH.
        beside = Path(sys.executable).with_name("rumorbot")
        rumorbot = str(beside) if beside.exists() else shutil.which("rumorbot") or "rumorbot"
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            rumorbot, "run", env=env, stdout=asyncio.subprocess.DEVNULL
        )
        try:
            while not any(
                (c.params.get("reply_parameters") or {}).get("message_id") == message["message_id"]
                for c in api.calls_to("sendMessage")
            ):
                if process.returncode is not None:
                    raise RuntimeError(f"rumorbot run exited with {process.returncode}")
                await asyncio.sleep(0.01)
            return time.perf_counter() - started
        finally:
            process.terminate()
            await process.wait()


async def main(runs: int) -> None:
    first, restart = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            db_url = f"sqlite:///{folder}/kb.db"
            first.append(await one_start(db_url))
            restart.append(await one_start(db_url))
    print(f"cold start of `rumorbot run` until the first update is answered ({runs} runs each)")
    print("| case | median s | min s | max s |")
    print("|---|---|---|---|")
    for name, values in (
        ("first run (empty DB: seed KB loaded with its shipped vectors)", first),
        ("restart", restart),
    ):
        print(
            f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
