"""The job codec: an add's request and result as jobs store them (JSON), read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.domain.adding import AddRequest, AddResult, RejectedDecision, Turn
from service.domain.adding.codec import (
    UnknownJobFormat,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)
from service.domain.ports import LlmUsage
from service.models import AddOutcome, Category, Guidance, Memory, Scope

LISBON_SUMMER = timezone(timedelta(hours=1))


def test_a_request_reads_back_as_it_was_written() -> None:
    request = AddRequest(
        Scope("ana", None, "r1"),
        [
            Turn("user", "I moved", "ana", datetime(2023, 5, 8, 10, tzinfo=LISBON_SUMMER)),
            Turn("assistant", "Where to?"),
        ],
        {"source": "chat", "n": [1, 2]},
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        guidance=Guidance(
            "Only food",
            "allergies",
            "brands",
            (Category("health", "Allergies, illnesses"), Category("food")),
        ),
    )

    assert decode_request(encode_request(request)) == request


def test_a_result_reads_back_as_it_was_written() -> None:
    now = datetime(2024, 2, 29, 12, tzinfo=UTC)
    memory = Memory(
        uuid.uuid4(), "Ana lives in Porto", Scope("ana"), {}, now, now, None, ("home", "work")
    )
    result = AddResult(
        outcomes=[AddOutcome("UPDATE", memory, "Ana lives in Porto", "Ana lives in Lisbon")],
        rejected=[RejectedDecision("x", "DELETE", "memory id 7 was not among the memories shown")],
        llm_used=True,
        usage=LlmUsage(1, 120, 20, 35.5),
        prompt_version="memory-update/2",
    )

    assert decode_result(encode_result(result)) == result


def test_jobs_stored_before_the_codec_had_a_version_still_read() -> None:
    raw = {
        "scope": {"user_id": "ana", "agent_id": None, "run_id": None},
        "turns": [{"role": "user", "content": "I moved", "name": None, "time": "2023-05-08T10:00"}],
        "metadata": {},
    }

    request = decode_request(raw)

    # Times without a timezone, from older jobs, are read as UTC.
    assert request.turns[0].timestamp == datetime(2023, 5, 8, 10, tzinfo=UTC)
    assert request.expires_at is None
    assert request.guidance == Guidance()


def test_a_result_of_version_1_reads_with_memories_without_categories() -> None:
    raw = {
        "version": 1,
        "results": [
            {
                "event": "ADD",
                "memory": {
                    "id": str(uuid.uuid4()),
                    "text": "Ana lives in Porto",
                    "user_id": "ana",
                    "agent_id": None,
                    "run_id": None,
                    "metadata": {},
                    "created_at": "2024-02-29T12:00:00+00:00",
                    "updated_at": "2024-02-29T12:00:00+00:00",
                    "expires_at": None,
                },
                "fact": "Ana lives in Porto",
                "previous_text": None,
            }
        ],
        "rejected": [],
        "llm_used": True,
        "usage": {"llm_calls": 1, "prompt_tokens": 1, "completion_tokens": 1, "llm_latency_ms": 1},
        "prompt_version": "memory-update/1",
    }

    [outcome] = decode_result(raw).outcomes

    assert outcome.memory.categories == ()


def test_a_job_of_a_newer_format_is_refused_by_name() -> None:
    raw = {**encode_request(AddRequest(Scope("ana"), [Turn("user", "hi")], {})), "version": 3}

    with pytest.raises(UnknownJobFormat, match="format 3"):
        decode_request(raw)
