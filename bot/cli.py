"""`rumorbot`: run the bot, check posts, manage the knowledge base."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config import Settings, load_settings
from bot.open_kb import open_kb
from kb.db import BadDatabaseUrl, open_database
from kb.errors import KbError
from kb.interchange import dump_entries

log = logging.getLogger("rumorbot")


class UsageError(Exception):
    """Bad input from the command line; printed as one line, exit code 2."""


def _progress(label: str) -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit="text", file=sys.stderr)
        bar["bar"].n = done
        bar["bar"].refresh()
        if done >= total:
            bar["bar"].close()

    return update


async def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from handlers import render

    text = " ".join(args.text) if args.text else sys.stdin.read()
    if not text.strip():
        raise UsageError('give the post to check: rumorbot check "TEXT" (or pipe it in)')
    async with open_kb(settings) as kb:
        await kb.seed_if_empty(_progress("loading the seed KB"))
        outcome = await kb.check(text, platform="cli")
    lang = args.lang or outcome.lang
    if outcome.entry is not None and outcome.result.match:
        reply = render.rebuttal(outcome.entry, lang)
    elif outcome.entry is not None:
        reply = render.ask(outcome.entry, lang)
    else:
        reply = render.no_match(lang)
    print(reply.html() if args.html else reply.plain())
    return 0


def _read_jsonl(lines: list[str], name: str) -> list[dict[str, Any]]:
    posts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{name} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise UsageError(f'{name} line {number}: expected {{"id": …, "text": "…"}}')
        posts.append(item)
    return posts


async def cmd_match(settings: Settings, args: argparse.Namespace) -> int:
    if args.jsonl == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            content = await asyncio.to_thread(Path(args.jsonl).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.jsonl}: {exc}") from exc
        lines = content.splitlines()
    posts = _read_jsonl(lines, "stdin" if args.jsonl == "-" else args.jsonl)
    async with open_kb(settings) as kb:
        for post in posts:
            result = await kb.match(post["text"], top=args.top, exact_scores=True)
            line = {
                "id": post.get("id"),
                "match": result.match,
                "decision": result.decision.value,
                "score": result.confidence,
                "candidates": [{"id": c.entry_id, "score": c.score} for c in result.candidates],
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    async with open_kb(settings) as kb:
        report = await kb.import_files(paths, actor="cli", progress=_progress("embedding"))
    print(f"imported {len(paths)} file(s): {report}")
    return 0


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from kb import store
    from kb.claimreview import dump_claimreview

    async with open_database(settings.database_url) as sessions, sessions() as session:
        entries = await store.list_entries(session)
    text = (
        dump_claimreview(entries)
        if args.format == "claimreview"
        else dump_entries(entries, args.format)
    )
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


async def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    async with open_kb(settings) as kb:
        report = await kb.seed(_progress("embedding"))
    print(f"seed KB loaded: {report}")
    return 0


async def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from kb import store
    from kb.models import Status

    status = Status(args.status) if args.status else None
    async with open_database(settings.database_url) as sessions, sessions() as session:
        entries = await store.list_entries(session, status)
    for e in entries:
        claim = e.claim if len(e.claim) <= 70 else e.claim[:69] + "…"
        print(f"{e.id}\t{e.status.value}\t{e.verdict.value}\t{e.lang}\t{claim}")
    return 0


async def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    from kb import store

    async with open_database(settings.database_url) as sessions, sessions() as session:
        entry = await store.get_entry(session, args.id)
    if entry is None:
        raise UsageError(f"no entry with id {args.id!r} (rumorbot kb list shows the ids)")
    sys.stdout.write(dump_entries([entry]))
    return 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run

    return await run(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rumorbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("run", help="run the bot on every platform that has credentials")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("check", help="check a post and print the reply the bot would send")
    p.add_argument("text", nargs="*", help="the post (read from stdin when omitted)")
    p.add_argument("--lang", choices=["en", "ru", "kk", "uk", "de"], help="reply language")
    p.add_argument("--html", action="store_true", help="print the Telegram HTML")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("match", help="match posts from a JSON-lines file, one result per line")
    p.add_argument(
        "--jsonl", required=True, metavar="FILE", help='lines {"id":…,"text":…}; - = stdin'
    )
    p.add_argument("--top", type=int, default=5, help="candidates per post (default 5)")
    p.set_defaults(func=cmd_match)
    kb = sub.add_parser("kb", help="manage the knowledge base").add_subparsers(
        dest="kb_command", required=True, metavar="ACTION"
    )
    p = kb.add_parser("import", help="import YAML/JSON/ClaimReview files (all or nothing)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_import)
    p = kb.add_parser("export", help="write the KB in the exchange format")
    p.add_argument("--format", choices=["yaml", "json", "claimreview"], default="yaml")
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(func=cmd_export)
    p = kb.add_parser("seed", help="load the bundled seed KB")
    p.set_defaults(func=cmd_seed)
    p = kb.add_parser("list", help="list entries")
    p.add_argument("--status", choices=["draft", "published", "archived"])
    p.set_defaults(func=cmd_list)
    p = kb.add_parser("show", help="show one entry")
    p.add_argument("id")
    p.set_defaults(func=cmd_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"rumorbot: bad setting {str(err['loc'][0]).upper()}: {err['msg']}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and Telegram's URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise
    try:
        return int(asyncio.run(args.func(settings, args)))
    except (UsageError, KbError, BadDatabaseUrl) as exc:
        print(f"rumorbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rumorbot: interrupted; finished work is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
