"""The bot's X account and three users, as every X test sets up the stand-in."""

from __future__ import annotations

from typing import Any

from tests.x_api import FakeX

BOT_ID = "1500000000000000001"
BOT_NAME = "rumor_responder"
CONSUMER_KEY = "ck-test"
CONSUMER_SECRET = "cs-test"
# tweepy derives the authenticating user id from the part before '-'.
ACCESS_TOKEN = f"{BOT_ID}-at-test"
ACCESS_TOKEN_SECRET = "ats-test"
BEARER = "app-only-bearer"
ALICE, BOB, CAROL = "2244994945", "783214", "17874544"


def new_fake(**kwargs: Any) -> FakeX:
    """A FakeX that knows the bot's credentials and Alice, Bob and Carol."""
    fake = FakeX(
        bot_user_id=BOT_ID,
        bot_username=BOT_NAME,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        access_token=ACCESS_TOKEN,
        access_token_secret=ACCESS_TOKEN_SECRET,
        bearer_token=BEARER,
        **kwargs,
    )
    fake.add_user(ALICE, "alice")
    fake.add_user(BOB, "bob")
    fake.add_user(CAROL, "carol")
    return fake
