"""Moderators' commands for entries, and owners' /mod, over the Bot API stand-in.

Every test runs the real bot on a copy of the seeded KB; changes are checked in the database
and in the audit log, refusals by the log staying as it was.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on RetryAfter without it

from sqlmodel import select

from handlers.telegram_mod_access import REFUSED, REFUSED_OWNER, WRONG_CHAT
from kb import roles, store
from kb.interchange import EntryIn
from kb.models import AuditLog, Status
from tests.conftest import TelegramHarness
from tests.telegram_api import JSON, SentMessage, group, private_chat, user

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

OWNER = user(1, "Olga", "olga")
MIRA = user(2001, "Mira", "mira")  # a moderator
STRANGER = user(3001, "Stan", "stan")
ALICE = user(1001, "Alice", "alice")
CONVOY = "kz-convoy-exercises"
# About the convoys, but worded so that the bot does not recognise it.
MISSED = "Every night long trains roll north from Petropavl and nobody is allowed near the wagons"


async def start(telegram: TelegramHarness, **settings: object) -> None:
    async with telegram.kb.sessions() as session:
        await roles.add_moderator(session, MIRA["id"], "Mira", "telegram:1")
        await session.commit()
    await telegram.start(telegram_owner_ids=[OWNER["id"]], **settings)


async def say(telegram: TelegramHarness, who: JSON, text: str) -> SentMessage:
    """Send a private message and return the bot's answer to it."""
    before = len(telegram.api.sent)
    telegram.api.private_text(who, text)
    [answer] = await telegram.api.wait_for_sent_to(who["id"], after=before, timeout=15)
    return answer


async def reply(telegram: TelegramHarness, who: JSON, text: str, to: JSON) -> SentMessage:
    before = len(telegram.api.sent)
    telegram.api.private_reply(who, text, to)
    [answer] = await telegram.api.wait_for_sent_to(who["id"], after=before, timeout=15)
    return answer


async def audit_rows(telegram: TelegramHarness) -> list[tuple[str, str, str | None]]:
    async with telegram.kb.sessions() as session:
        rows = (await session.exec(select(AuditLog).order_by(AuditLog.id))).all()  # type: ignore[arg-type]
    return [(r.actor, r.action, r.entry_id) for r in rows]


async def entry(telegram: TelegramHarness, entry_id: str = CONVOY) -> EntryIn:
    async with telegram.kb.sessions() as session:
        found = await store.get_entry(session, entry_id)
    assert found is not None
    return found


MODERATOR_COMMANDS = [
    "/new",
    "/new Some claim to write up",
    f"/edit {CONVOY} verdict true",
    f"/source {CONVOY} https://example.org/x Title",
    f"/translate {CONVOY} fr\nLa revendication\nLe résumé",
    f"/variant {CONVOY}",
    f"/media {CONVOY}",
    f"/publish {CONVOY}",
    f"/archive {CONVOY}",
    f"/show {CONVOY}",
    "/find tanks to Russia",
    f"/history {CONVOY}",
    "/export",
    "/cancel",
]


async def test_a_stranger_is_refused_every_moderator_command(telegram: TelegramHarness) -> None:
    await start(telegram)
    before = await audit_rows(telegram)

    for command in [*MODERATOR_COMMANDS, "/mod list", "/mod add 3001", f"/mod remove {MIRA['id']}"]:
        refusal = await say(telegram, STRANGER, command)
        wanted = REFUSED_OWNER if command.startswith("/mod") else REFUSED
        assert refusal.plain_text == wanted, command
    sent = len(telegram.api.sent)
    telegram.api.document(STRANGER, "kb.yaml", b"entries: []\n", caption="/import")
    [refusal] = await telegram.api.wait_for_sent_to(STRANGER["id"], after=sent)
    assert refusal.plain_text == REFUSED
    telegram.api.callback_query(STRANGER, refusal, "rq:new:1")
    await telegram.api.wait_for_calls("answerCallbackQuery", timeout=10)
    assert telegram.api.callback_answers[-1] == {
        "callback_query_id": telegram.api.callback_answers[-1]["callback_query_id"],
        "text": REFUSED,
        "show_alert": True,
    }
    # A moderator is no owner.
    assert (await say(telegram, MIRA, "/mod add 3001")).plain_text == REFUSED_OWNER

    await telegram.settle()
    assert await audit_rows(telegram) == before
    assert (await entry(telegram)).status is Status.PUBLISHED
    assert not any(m.document for m in telegram.api.sent)


async def test_moderators_work_in_private_or_in_the_moderators_group_only(
    telegram: TelegramHarness,
) -> None:
    mods, other = group(-100200, "Fact-checkers"), group(-100300, "Random chat")
    await start(telegram, telegram_moderator_chat_id=mods["id"])

    telegram.api.group_text(MIRA, mods, f"/show {CONVOY}")
    telegram.api.group_text(MIRA, other, f"/show {CONVOY}")
    first, second = await telegram.api.wait_for_sent(2, timeout=15)

    answers = {m.chat_id: m.plain_text for m in (first, second)}
    assert answers[mods["id"]].startswith(f"{CONVOY} · published · en")
    assert answers[other["id"]] == WRONG_CHAT


async def test_variant_turns_a_missed_post_into_a_match(telegram: TelegramHarness) -> None:
    await start(telegram)
    assert "not found" in (await say(telegram, ALICE, MISSED)).plain_text
    forwarded = telegram.api.forwarded_from_channel(MIRA, MISSED, "Rumours", "rumours", 5)
    await telegram.api.wait_for_sent_to(MIRA["id"], timeout=15)

    done = await reply(telegram, MIRA, f"/variant {CONVOY}", forwarded["message"])

    assert done.plain_text == f"{CONVOY}: phrasing added; it matches from now on."
    answer = await say(telegram, ALICE, MISSED)
    assert answer.plain_text.startswith("❌ False")
    assert "Ministry of Defence" in answer.plain_text
    assert (await audit_rows(telegram))[-1][:2] == ("telegram:2001 @mira", "variant")


async def test_variant_and_media_need_a_replied_post(telegram: TelegramHarness) -> None:
    await start(telegram)
    for command, usage in (
        (f"/variant {CONVOY}", "/variant ID"),
        (f"/media {CONVOY}", "/media ID"),
    ):
        assert (await say(telegram, MIRA, command)).plain_text.startswith(f"Usage: {usage}")
    answer = await say(telegram, MIRA, MISSED)
    refused = await reply(
        telegram, MIRA, f"/variant {CONVOY}", telegram.api.message(MIRA["id"], answer.message_id)
    )
    assert refused.plain_text == "Reply to the post itself, not to my answer."


async def test_media_attaches_a_photo_that_then_matches(telegram: TelegramHarness) -> None:
    await start(telegram)
    photo = telegram.api.photo_with_caption(MIRA, "", "CONVOY-PHOTO")
    await telegram.api.wait_for_sent_to(MIRA["id"], timeout=15)  # the photo's own answer first
    done = await reply(telegram, MIRA, f"/media {CONVOY}", photo["message"])
    assert done.plain_text == f"{CONVOY}: media attached."

    sent = len(telegram.api.sent)
    telegram.api.photo_with_caption(ALICE, "", "CONVOY-PHOTO")
    [answer] = await telegram.api.wait_for_sent_to(ALICE["id"], after=sent, timeout=15)
    assert answer.plain_text.startswith("❌ False")


async def test_history_shows_who_changed_what(telegram: TelegramHarness) -> None:
    await start(telegram)
    done = await say(telegram, MIRA, f"/edit {CONVOY} verdict misleading")
    assert done.plain_text == f"{CONVOY}: verdict changed."
    await say(telegram, MIRA, f"/edit {CONVOY} tags kazakhstan, <military> & more")

    history = await say(telegram, MIRA, f"/history {CONVOY}")

    lines = history.plain_text.splitlines()
    assert lines[0] == f"History of {CONVOY}"
    assert any(line.endswith("· seed · import") for line in lines)
    assert any(line.endswith("· telegram:2001 @mira · edit verdict") for line in lines)
    assert "  verdict: false → misleading" in lines
    assert any(
        line.startswith('  tags: ["kazakhstan", "russia", "military"')
        and line.endswith('→ ["kazakhstan", "<military>", "&", "more"]')
        for line in lines
    )
    assert (await entry(telegram)).verdict.value == "misleading"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (f"/edit {CONVOY} verdict maybe", "Nothing changed: 'maybe' is not a verdict"),
        (f"/edit {CONVOY} verdict", "Usage: /edit ID FIELD VALUE"),
        (f"/edit {CONVOY} status archived", "Nothing changed: 'status' cannot be edited"),
        ("/edit no-such claim New claim", "Nothing changed: no entry with id 'no-such'."),
        (
            f"/source {CONVOY} not-a-link Title",
            "Nothing changed: not-a-link is not an http(s) link.",
        ),
        (f"/source {CONVOY}", "Usage: /source ID URL [title]"),
        (f"/translate {CONVOY} ru\nonly a claim", "Usage: /translate ID LANG"),
        ("/publish", "Usage: /publish ID"),
        ("/show a b", "Usage: /show ID"),
        ("/find", "Usage: /find TEXT"),
        ("/export csv", "Usage: /export [yaml|json|claimreview]"),
        ("/mod", "Usage: /mod add USER_ID"),
        ("/mod add someone", "Usage: /mod add USER_ID"),
    ],
)
async def test_malformed_commands_answer_with_usage_and_change_nothing(
    telegram: TelegramHarness, command: str, problem: str
) -> None:
    await start(telegram)
    before = await audit_rows(telegram)
    who = OWNER if command.startswith("/mod") else MIRA

    answer = await say(telegram, who, command)

    assert answer.plain_text.startswith(problem)
    await telegram.settle()
    assert await audit_rows(telegram) == before


async def test_source_translate_publish_archive_and_show(telegram: TelegramHarness) -> None:
    await start(telegram)
    said = await say(telegram, MIRA, f"/source {CONVOY} https://example.org/<x>&y Report <b>")
    assert said.plain_text == f"{CONVOY}: source added."
    said = await say(telegram, MIRA, f"/translate {CONVOY} de")
    assert said.plain_text.startswith("Send the de claim on the first line")
    said = await say(telegram, MIRA, "Kasachstan schickt Panzer\nDas Ministerium sagt: Übungen.")
    assert said.plain_text == f"{CONVOY}: de translation saved."
    said = await say(
        telegram, MIRA, f"/translate {CONVOY} fr\nLe Kazakhstan envoie des chars\nNon."
    )
    assert said.plain_text == f"{CONVOY}: fr translation saved."
    assert (await say(telegram, MIRA, f"/archive {CONVOY}")).plain_text == f"{CONVOY} is archived."
    assert (await say(telegram, MIRA, f"/archive {CONVOY}")).plain_text == "Already archived."
    assert "not found" in (await say(telegram, ALICE, MISSED)).plain_text
    assert (await say(telegram, MIRA, f"/publish {CONVOY}")).plain_text.startswith(
        f"{CONVOY} is published."
    )

    card = await say(telegram, MIRA, f"/show {CONVOY}")

    assert card.plain_text.startswith(f"{CONVOY} · published · en\n❌ False\nClaim: Videos")
    assert "\n\nde: Kasachstan schickt Panzer — Das Ministerium sagt: Übungen." in card.plain_text
    assert "https://example.org/<x>&y" in [e.get("url") for e in card.entities]
    assert "• Report <b>" in card.plain_text
    found = await entry(telegram)
    assert found.translations["de"].summary == "Das Ministerium sagt: Übungen."
    assert [a[1] for a in (await audit_rows(telegram))[-5:]] == [
        "source", "translate de", "translate fr", "archive", "publish"
    ]  # fmt: skip


async def test_find_lists_the_closest_entries_with_confidence(telegram: TelegramHarness) -> None:
    await start(telegram)
    answer = await say(telegram, MIRA, "/find Kazakhstan ships tanks to Russia by train <secretly>")
    lines = answer.plain_text.splitlines()
    assert lines[:2] == [
        "Closest entries for: Kazakhstan ships tanks to Russia by train <secretly>",
        "decision: answer",
    ]
    assert lines[3].startswith(f"1. {CONVOY} — ") and "% confident (similarity" in lines[3]
    assert answer.plain_text.count("% confident") == 3  # the seed's three entries


async def test_export_sends_the_kb_as_a_file(telegram: TelegramHarness) -> None:
    await start(telegram)
    sent = len(telegram.api.sent)
    telegram.api.private_text(MIRA, "/export json")
    [message] = await telegram.api.wait_for_sent_to(MIRA["id"], after=sent, timeout=15)

    assert message.method == "sendDocument" and message.document is not None
    assert message.plain_text == "3 entries"
    assert message.document.file_name is not None and message.document.file_name.endswith(".json")
    exported = json.loads(message.document.content)
    assert [e["id"] for e in exported["entries"]] == sorted(
        ["kz-convoy-exercises", "kz-sanctions-government", "kz-dual-use-goods"]
    )


GOOD = {
    "id": "lemon-water",
    "claim": "Hot water with lemon cures the coronavirus.",
    "verdict": "false",
    "summary": "No drink cures COVID-19, says the WHO.",
    "lang": "en",
}


async def test_a_bad_import_file_changes_nothing(telegram: TelegramHarness) -> None:
    await start(telegram)
    before = await audit_rows(telegram)
    changed = {"id": CONVOY, "claim": "Changed", "verdict": "false", "summary": "S", "lang": "en"}
    bad = GOOD | {"id": "second", "verdict": "nonsense"}
    text = yaml.safe_dump({"entries": [GOOD, changed, bad]}, sort_keys=False)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "nonsense" in row)

    sent = len(telegram.api.sent)
    telegram.api.document(MIRA, "kb <new>.yaml", text.encode(), caption="/import")
    [answer] = await telegram.api.wait_for_sent_to(MIRA["id"], after=sent, timeout=15)

    assert answer.plain_text.startswith(
        f"Nothing was imported. kb <new>.yaml line {line}: entry 'second', field 'verdict'"
    )
    await telegram.settle()
    assert await audit_rows(telegram) == before
    assert (await entry(telegram)).claim.startswith("Videos")
    async with telegram.kb.sessions() as session:
        assert await store.get_entry(session, "lemon-water") is None


async def test_an_import_file_reports_what_changed(telegram: TelegramHarness) -> None:
    await start(telegram)
    current = (await entry(telegram)).model_dump(mode="json")
    edited = current | {"summary": "A new summary."}
    text = json.dumps({"entries": [GOOD, edited]})

    sent = len(telegram.api.sent)
    telegram.api.document(MIRA, "kb.json", text.encode(), caption="/import")
    [answer] = await telegram.api.wait_for_sent_to(MIRA["id"], after=sent, timeout=30)

    assert answer.plain_text == (
        "Imported kb.json: 1 new, 1 updated, 0 unchanged\nnew: lemon-water\nupdated: " + CONVOY
    )
    assert (await entry(telegram)).summary == "A new summary."
    assert (await entry(telegram, "lemon-water")).status is Status.PUBLISHED
    assert (await audit_rows(telegram))[-2:] == [
        ("telegram:2001 @mira", "import", "lemon-water"),
        ("telegram:2001 @mira", "update", CONVOY),
    ]


async def test_owners_add_list_and_remove_moderators(telegram: TelegramHarness) -> None:
    await start(telegram)
    assert (await say(telegram, STRANGER, f"/show {CONVOY}")).plain_text == REFUSED
    # The owner replies to a message the stranger forwarded... or names a numeric id.
    sent = len(telegram.api.sent)
    forwarded = telegram.api.private_text(OWNER, "hi", queue=False)["message"]
    forwarded |= {"forward_origin": {"type": "user", "sender_user": STRANGER, "date": 1}}
    telegram.api.private_reply(OWNER, "/mod add", forwarded)
    [added] = await telegram.api.wait_for_sent_to(OWNER["id"], after=sent, timeout=15)
    assert added.plain_text == "3001 is now a moderator."
    assert (await say(telegram, STRANGER, f"/show {CONVOY}")).plain_text.startswith(CONVOY)

    listed = await say(telegram, OWNER, "/mod list")
    assert listed.plain_text.splitlines() == [
        "Owners: 1",
        "Moderators:",
        "• 2001 Mira (added by telegram:1)",
        "• 3001 Stan @stan (added by telegram:1 @olga)",
    ]
    assert (await say(telegram, OWNER, "/mod add 3001")).plain_text == "Already a moderator."
    assert (await say(telegram, OWNER, "/mod remove 3001")).plain_text == (
        "3001 is no longer a moderator."
    )
    assert (await say(telegram, STRANGER, f"/show {CONVOY}")).plain_text == REFUSED
    assert [a[:2] for a in (await audit_rows(telegram))[-2:]] == [
        ("telegram:1 @olga", "mod_add"),
        ("telegram:1 @olga", "mod_remove"),
    ]


def menus(telegram: TelegramHarness) -> dict[int, list[str]]:
    """The commands of each chat that has a menu of its own."""
    return {
        json.loads(scope)["chat_id"]: [c["command"] for c in commands]
        for (scope, _), commands in telegram.api.commands.items()
        if json.loads(scope)["type"] == "chat"
    }


async def test_owners_and_moderators_get_the_moderators_menu(telegram: TelegramHarness) -> None:
    for person in (OWNER, MIRA):  # both have written to the bot before
        telegram.api.add_chat(private_chat(person))
    await start(telegram)
    await telegram.api.wait_for_calls("setMyCommands", n=3 * 6 + 2, timeout=10)

    assert {"new", "mod", "check"} <= set(menus(telegram)[OWNER["id"]])
    assert "new" in menus(telegram)[MIRA["id"]] and "mod" not in menus(telegram)[MIRA["id"]]

    await say(telegram, STRANGER, "/help")
    await say(telegram, OWNER, f"/mod add {STRANGER['id']}")
    assert "new" in menus(telegram)[STRANGER["id"]]
    await say(telegram, OWNER, f"/mod remove {STRANGER['id']}")
    assert STRANGER["id"] not in menus(telegram)
