"""All configuration, read once from the environment or a `.env` file."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    folder = Path(platformdirs.user_data_dir("rumorbot"))
    return f"sqlite:///{folder / 'rumorbot.db'}"


class Settings(BaseSettings):
    """Every variable is documented in README.md; secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    log_level: str = "INFO"
    # Posts matched at once, one core each (about 20 MB per extra model copy). 1 keeps the
    # bot light beside other work; set it to the number of cores for the most throughput.
    embed_threads: int = Field(default=1, ge=1, le=16)

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_owner_ids: list[int] = []
    # A group whose members' moderator commands are accepted there too (besides private chats).
    telegram_moderator_chat_id: int | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"  # noqa: S104  (a webhook must be reachable from Telegram)
    webhook_port: int = 8443

    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_bearer_token: SecretStr | None = None
    x_api_base_url: str = "https://api.twitter.com"
    # Basic tier: 10 mention reads per 15 minutes, so one every 90 s; Pro allows every 5 s.
    x_poll_interval: float = Field(default=90.0, gt=0)
    x_reply_links: bool = True

    @field_validator("telegram_owner_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            return [int(part) for part in value.replace(",", " ").split()]
        return value

    @field_validator(
        "telegram_bot_token",
        "x_api_key",
        "x_api_secret",
        "x_access_token",
        "x_access_token_secret",
        "x_bearer_token",
        "webhook_url",
        "webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def x_configured(self) -> bool:
        """All four OAuth 1.0a values are needed to read mentions and to reply."""
        return all(
            (self.x_api_key, self.x_api_secret, self.x_access_token, self.x_access_token_secret)
        )


def load_settings() -> Settings:
    return Settings()
