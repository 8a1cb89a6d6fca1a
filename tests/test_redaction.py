"""What a log line may contain: the rules of service.redaction and service.logging, in-process."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import structlog

from service.logging import configure_logging
from service.redaction import MASK, Redactor, mask_dsn
from service.settings import Settings

PASSWORD = "s3cret-pass"
TEXT = "my diary says the code is 4711"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/mem", f"postgresql://app:{MASK}@db:5432/mem"),
        ("postgresql://app@db/mem", "postgresql://app@db/mem"),
        ("postgresql:///mem?host=/tmp", "postgresql:///mem?host=/tmp"),
        (
            "host=db user=app password=s3cret dbname=mem",
            f"host=db user=app password={MASK} dbname=mem",
        ),
    ],
)
def test_a_dsn_is_shown_only_with_its_password_masked(dsn: str, expected: str) -> None:
    assert mask_dsn(dsn) == expected


def test_the_redactor_masks_known_secrets_and_secret_shaped_values() -> None:
    redactor = Redactor([PASSWORD, None, "x"])
    line = (
        f"connect to postgres://u:{PASSWORD}@h failed; sent Authorization: Bearer abc.def "
        f"and X-API-Key msk_AbC-12_x; password={PASSWORD}; 'password': 'other'"
    )
    redacted = redactor.text(line)
    for secret in (PASSWORD, "abc.def", "msk_AbC-12_x", "other"):
        assert secret not in redacted
    assert redactor.value({"a": [line, (line,)], "n": 1}) == {
        "a": [redacted, [redacted]],
        "n": 1,
    }
    assert "x" in redactor.text("x marks the spot")  # too short to mask everywhere


@pytest.fixture
def process_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; the rest of the session gets it back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    structlog_config = structlog.get_config()
    yield
    root.handlers[:], root.level = handlers, level
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    structlog.configure(**structlog_config)


def _fail_with_secrets(settings: Settings) -> None:
    authorization = f"Bearer msk_{PASSWORD}"  # a local a traceback with locals would print
    raise ValueError(f"{TEXT} {settings.database_url} {authorization}")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_exceptions_are_logged_as_frames_without_message_or_locals(
    log_format: str, capsys: pytest.CaptureFixture[str], process_logging: None
) -> None:
    settings = replace(
        Settings(),
        database_url=f"postgresql://app:{PASSWORD}@db/mem",
        llm_api_key="sk-llm-key-1234",
        log_format=log_format,  # type: ignore[arg-type]  # the two values under test
        log_level="debug",
        data_dir=Path("/nonexistent"),
    )
    configure_logging(settings)
    log = structlog.get_logger("service.test")
    try:
        _fail_with_secrets(settings)
    except ValueError:
        log.exception("test.failed", detail=f"dsn {settings.database_url}")
    try:
        _fail_with_secrets(settings)
    except ValueError:
        logging.getLogger("uvicorn.error").exception("foreign %s", settings.llm_api_key)
    logging.getLogger("openai._base_client").debug("Request options: %s", TEXT)
    output = capsys.readouterr().err
    for secret in (PASSWORD, TEXT, "sk-llm-key-1234", "4711"):
        assert secret not in output
    assert "_fail_with_secrets" in output  # the frames are there
    assert "ValueError" in output
    assert output.count("test_redaction.py") >= 2
    if log_format == "json":
        events = [json.loads(line) for line in output.splitlines()]
        frames = events[0]["exception"][0]["frames"]
        assert all({"file", "line", "function"} == set(frame) for frame in frames)
