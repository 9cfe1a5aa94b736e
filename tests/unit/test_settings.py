"""Settings read from the environment: what an operator sets is what a function runs with,
and a wrong value stops it at start with the variable named — never its value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from creator_chat.settings import PREFIX, SecretStr, Settings, SettingsError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: other tests in this process export settings of their own."""
    for name in list(os.environ):
        if name.startswith(PREFIX) or name in ("AWS_REGION", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)


def test_variables_are_read_by_their_prefixed_names_and_typed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CREATOR_CHAT_ENV", "staging")
    monkeypatch.setenv("CREATOR_CHAT_QUOTA_FREE", " 7 ")
    monkeypatch.setenv("CREATOR_CHAT_SIMILARITY_FLOOR", "0.4")
    monkeypatch.setenv("CREATOR_CHAT_DEV_SIGN_IN", "yes")
    monkeypatch.setenv("CREATOR_CHAT_DATA_DIR", "/var/lib/creator-chat")
    monkeypatch.setenv("CREATOR_CHAT_RESOURCE_NAMES", '{"table:threads": "prod-threads-x1"}')
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    s = Settings()
    assert (s.env, s.quota_free, s.similarity_floor, s.dev_sign_in) == ("staging", 7, 0.4, True)
    assert s.data_dir == Path("/var/lib/creator-chat")
    assert s.physical_name("table", "threads") == "prod-threads-x1"
    assert s.physical_name("queue", "llm-jobs") == "creator-chat-local-llm-jobs"
    assert s.aws_region == "eu-west-1"
    assert s.storage_family == "aws"  # a deployed environment


def test_unset_and_empty_variables_take_the_defaults(monkeypatch: pytest.MonkeyPatch):
    for name in ("CREATOR_CHAT_STORAGE", "CREATOR_CHAT_DATA_DIR", "CREATOR_CHAT_RESOURCE_NAMES"):
        monkeypatch.setenv(name, "")
    s = Settings()
    assert s.storage is None and s.data_dir is None and s.resource_names == {}
    assert s.storage_family == "embedded" and s.quota_premium == 500


def test_arguments_take_precedence_over_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CREATOR_CHAT_QUOTA_FREE", "9")
    s = Settings(quota_free=3, data_dir="/tmp/x")
    assert s.quota_free == 3 and s.data_dir == Path("/tmp/x")
    assert s.replace(quota_free=4).quota_free == 4 and s.quota_free == 3


def test_a_wrong_value_stops_the_start_naming_every_variable_not_its_value(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("CREATOR_CHAT_QUOTA_FREE", "fifty-s3cret")
    monkeypatch.setenv("CREATOR_CHAT_GENERATOR", "gpt-s3cret")
    monkeypatch.setenv("CREATOR_CHAT_EXPORT_TTL_S", "5")
    monkeypatch.setenv("CREATOR_CHAT_RESOURCE_NAMES", "{not json s3cret")
    with pytest.raises(SettingsError) as raised:
        Settings()
    message = str(raised.value)
    assert "CREATOR_CHAT_QUOTA_FREE: must be a whole number" in message
    assert "CREATOR_CHAT_GENERATOR: must be one of local, bedrock, openai" in message
    assert "CREATOR_CHAT_EXPORT_TTL_S: must be at least 60" in message
    assert "CREATOR_CHAT_RESOURCE_NAMES: must be a JSON object of strings" in message
    assert "s3cret" not in message


@pytest.mark.parametrize("value", ["maybe", "2", ""])
def test_a_flag_is_true_or_false_only(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("CREATOR_CHAT_DEV_SIGN_IN", value)
    with pytest.raises(SettingsError, match="CREATOR_CHAT_DEV_SIGN_IN: must be true or false"):
        Settings()


def test_a_secret_never_shows(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CREATOR_CHAT_JWT_SECRET", "very-secret-value-0123456789")
    s = Settings()
    assert isinstance(s.jwt_secret, SecretStr)
    assert s.jwt_secret.get_secret_value() == "very-secret-value-0123456789"
    assert "very-secret" not in repr(s) and "very-secret" not in str(s.jwt_secret)
    assert Settings(jwt_secret="abc").jwt_secret == SecretStr("abc")


def test_a_misspelt_argument_is_refused():
    with pytest.raises(TypeError, match="quota_fre"):
        Settings(quota_fre=3)
