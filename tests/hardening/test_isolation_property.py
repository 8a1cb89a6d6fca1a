"""Property: whatever two tenants do, B never observes anything of A's.

Hypothesis draws sequences of operations by tenant A (who stores secrets) interleaved with
probes by tenant B, who uses the same user ids and A's own memory and job ids, on every
endpoint of both dialects. B's answers must never contain A's texts or ids, must look the
same for A's ids as for ids that exist nowhere, and A's memories must be exactly what A did.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LiveServer, create_api_key

USERS = ("alice", "bob")
A_ACTIONS = ("add", "add_batch", "add_mem0", "update", "delete", "delete_scope")
B_PROBES = (
    "search",
    "list",
    "get",
    "history",
    "update",
    "delete",
    "delete_scope",
    "job",
    "mem0_search",
    "mem0_list",
    "mem0_users",
    "mem0_get",
    "mem0_history",
    "mem0_feedback",
    "mem0_batch_delete",
)


@dataclass
class World:
    a: httpx.Client
    b: httpx.Client
    secrets: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (user, text)

    def secret_text(self, user: str) -> str:
        return f"{user} secret {uuid.uuid4().hex}"


def _act_as_a(world: World, action: str, user: str, pick: int) -> None:
    ids = sorted(world.secrets)
    if action == "add":
        text = world.secret_text(user)
        body = {"text": text, "user_id": user, "infer": False, "metadata": {"secret": text}}
        memory = world.a.post("/v1/memories", json=body).json()["results"][0]["memory"]
        world.secrets[memory["id"]] = (user, text)
    elif action == "add_batch":
        texts = [world.secret_text(user) for _ in range(2)]
        items = [{"text": t, "user_id": user} for t in texts]
        for result in world.a.post("/v1/memories/batch", json={"items": items}).json()["results"]:
            world.secrets[result["memory"]["id"]] = (user, result["memory"]["text"])
    elif action == "add_mem0":
        text = world.secret_text(user)
        [result] = world.a.post(
            "/v3/memories/add/",
            json={"messages": [{"role": "user", "content": text}], "user_id": user, "infer": False},
        ).json()["results"]
        world.secrets[result["id"]] = (user, text)
    elif action == "update" and ids:
        memory_id = ids[pick % len(ids)]
        text = world.secret_text(world.secrets[memory_id][0])
        assert world.a.patch(f"/v1/memories/{memory_id}", json={"text": text}).status_code == 200
        world.secrets[memory_id] = (world.secrets[memory_id][0], text)
    elif action == "delete" and ids:
        memory_id = ids[pick % len(ids)]
        assert world.a.delete(f"/v1/memories/{memory_id}").status_code == 204
        del world.secrets[memory_id]
    elif action == "delete_scope":
        world.a.delete("/v1/memories", params={"user_id": user})
        world.secrets = {k: v for k, v in world.secrets.items() if v[0] != user}


def _probe_as_b(world: World, probe: str, user: str, pick: int) -> None:
    ids = sorted(world.secrets) or [str(uuid.uuid4())]
    target = ids[pick % len(ids)]
    nowhere = str(uuid.uuid4())

    def same_as_for_nowhere(method: str, path: str, **kwargs: Any) -> None:
        """A's id gets the very answer an id that exists nowhere gets."""
        theirs = world.b.request(method, path.format(id=target), **kwargs)
        absent = world.b.request(method, path.format(id=nowhere), **kwargs)
        assert theirs.status_code == absent.status_code, (path, theirs.text)
        assert _normalised(theirs, target) == _normalised(absent, nowhere), path

    if probe == "search":
        response = world.b.post(
            "/v1/search", json={"query": "secret", "user_id": user, "limit": 100}
        )
        assert response.json()["results"] == []
        # The prompt context is built from the same search: it must be empty too.
        context = world.b.post("/v1/context", json={"query": "secret", "user_id": user})
        assert context.json()["context"] == ""
    elif probe == "list":
        assert world.b.get("/v1/memories", params={"user_id": user}).json()["memories"] == []
    elif probe in ("get", "history", "update", "delete"):
        method, path, body = {
            "get": ("GET", "/v1/memories/{id}", None),
            "history": ("GET", "/v1/memories/{id}/history", None),
            "update": ("PATCH", "/v1/memories/{id}", {"text": "overwritten by B"}),
            "delete": ("DELETE", "/v1/memories/{id}", None),
        }[probe]
        same_as_for_nowhere(method, path, json=body)
    elif probe == "delete_scope":
        assert world.b.delete("/v1/memories", params={"user_id": user}).json() == {"deleted": 0}
    elif probe == "job":
        same_as_for_nowhere("GET", "/v1/jobs/{id}")
    elif probe == "mem0_search":
        found = world.b.post(
            "/v3/memories/search/", json={"query": "secret", "filters": {"user_id": user}}
        )
        assert found.json()["results"] == []
    elif probe == "mem0_list":
        page = world.b.post("/v3/memories/", json={"filters": {"user_id": user}}).json()
        assert page["count"] == 0
    elif probe == "mem0_users":
        assert world.b.get("/v1/entities/").json()["results"] == []
    elif probe == "mem0_get":
        same_as_for_nowhere("GET", "/v1/memories/{id}/")
    elif probe == "mem0_history":
        same_as_for_nowhere("GET", "/v1/memories/{id}/history/")
    elif probe == "mem0_feedback":
        response = world.b.post("/v1/feedback/", json={"memory_id": target, "feedback": "NEGATIVE"})
        assert response.status_code == 404
    elif probe == "mem0_batch_delete":
        response = world.b.request(
            "DELETE", "/v1/batch/", json={"memories": [{"memory_id": target}]}
        )
        assert response.status_code == 404


def _normalised(response: httpx.Response, asked_id: str) -> Any:
    """The answer without what differs per request: its id and the id asked about."""
    if not response.content:
        return None
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)
    return str(body).replace(asked_id, "<id>")


step = st.one_of(
    st.tuples(st.just("A"), st.sampled_from(A_ACTIONS), st.sampled_from(USERS), st.integers(0, 50)),
    st.tuples(st.just("B"), st.sampled_from(B_PROBES), st.sampled_from(USERS), st.integers(0, 50)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=4, max_size=14))
def test_tenant_b_never_observes_tenant_a(
    live_server: LiveServer, steps: list[tuple[str, str, str, int]]
) -> None:
    keys = [create_api_key(live_server.dsn, f"iso-{who}-{uuid.uuid4().hex[:10]}") for who in "ab"]
    seen_by_b: list[tuple[str, str]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        request = f"{response.request.url} {response.request.content.decode()}"
        seen_by_b.append((request, response.text))

    clients = [
        httpx.Client(
            base_url=live_server.base_url,
            headers={"X-API-Key": key},
            timeout=30,
            event_hooks=hooks,
        )
        for key, hooks in zip(keys, [{}, {"response": [record]}], strict=True)
    ]
    world = World(clients[0], clients[1])
    try:
        for who, action, user, pick in steps:
            if who == "A":
                _act_as_a(world, action, user, pick)
            else:
                _probe_as_b(world, action, user, pick)
        # A's memories are exactly what A did: B changed and deleted nothing.
        for user in USERS:
            stored = world.a.get("/v1/memories", params={"user_id": user, "limit": 1000}).json()[
                "memories"
            ]
            expected = {k: v[1] for k, v in world.secrets.items() if v[0] == user}
            assert {m["id"]: m["text"] for m in stored} == expected
        # Nothing of A's in anything B got back, except an id B itself sent.
        secrets = [*world.secrets, *(text for _, text in world.secrets.values())]
        for request, answer in seen_by_b:
            leaked = [s for s in secrets if s in answer and s not in request]
            assert not leaked, (request, answer)
    finally:
        for client in clients:
            client.close()
