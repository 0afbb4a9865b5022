"""The real server as a process on a free loopback port, driven by the official openai and mcp
clients and plain HTTP (httpx2, which both of those clients use)."""

import asyncio
import json
import os
import sys
import time

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from openai import NotFoundError as OpenAINotFound
from openai import OpenAI

from imprint.serve.launch import running_server

ALICE, BOB = "k-alice-3f9a2c71d0e4", "k-bob-77c1b5e09a3f"
DATA_DIRS = {}  # server URL -> its data folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    keys = folder / "keys.json"
    keys.write_text(json.dumps({"keys": {ALICE: ["alice"], BOB: ["bob*"]}}))
    with running_server(folder / "data", keys) as url:
        DATA_DIRS[url] = folder / "data"
        yield url


def client(url: str, key: str | None) -> httpx2.Client:
    return httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=300)


def test_rest_add_search_ask_forget_with_tenancy(server):
    alice, bob = client(server, ALICE), client(server, BOB)
    added = alice.post(
        "/spaces/alice/memories", json={"text": "Mira Quenton moved to Tallinn in 2021.", "source": "n1"}
    )
    assert added.status_code == 201
    alice.post("/spaces/alice/memories", json={"text": "The robotics club meets on Thursdays."})
    upload = alice.post("/spaces/alice/files", files={"file": ("pets.md", b"Ana has a parrot named Kiwi.")})
    assert upload.status_code == 201 and upload.json()["memory_ids"]
    bob.post("/spaces/bob/memories", json={"text": "Bob's locker code is 4411."})

    hits = alice.post("/spaces/alice/search", json={"query": "where did Mira move", "k": 1}).json()["hits"]
    assert "Tallinn" in hits[0]["memory"]["text"]
    answer = alice.post("/spaces/alice/ask", json={"question": "Which city did Mira Quenton move to?"}).json()
    assert "Tallinn" in answer["answer"] and answer["memory_ids"]

    # no key, wrong key: 401; another tenant's space looks exactly like a missing one
    assert client(server, None).get("/spaces").status_code == 401
    assert client(server, "k-wrong").post("/spaces/alice/search", json={"query": "x"}).status_code == 401
    other = alice.post("/spaces/bob/search", json={"query": "locker code"})
    missing = alice.post("/spaces/nobody/search", json={"query": "locker code"})
    assert other.status_code == missing.status_code == 404
    assert "4411" not in other.text and alice.get("/spaces").json() == {"spaces": ["alice"]}

    memory_id = added.json()["memory_ids"][0]
    shown = alice.get(f"/spaces/alice/memories/{memory_id}").json()
    assert shown["validity"][0]["valid_to"] is None and shown["validity"][0]["sentence"] in shown["text"]
    assert alice.delete(f"/spaces/alice/memories/{memory_id}").status_code == 200
    assert alice.get(f"/spaces/alice/memories/{memory_id}").status_code == 404
    assert alice.post("/spaces/alice/ask", json={"question": "x", "strategy": "psychic"}).status_code == 400
    assert alice.delete("/spaces/bob").status_code == 404  # not hers: nothing happens
    assert bob.post("/spaces/bob/search", json={"query": "locker code"}).status_code == 200


def test_rest_updates_filters_and_describes_itself_offline(server):
    alice = client(server, ALICE)
    [old] = alice.post(
        "/spaces/alice/memories", json={"text": "Vera Lund keeps goats in Mora.", "metadata": {"user_id": "u1"}}
    ).json()["memory_ids"]
    alice.post(
        "/spaces/alice/memories", json={"text": "Vera Lund keeps sheep in Rattvik.", "metadata": {"user_id": "u2"}}
    )
    found = alice.post(
        "/spaces/alice/search", json={"query": "Vera Lund animals", "k": 10, "filters": {"user_id": "u2"}}
    ).json()["hits"]
    assert [h["memory"]["metadata"]["user_id"] for h in found] == ["u2"]
    listed = alice.get("/spaces/alice/memories", params={"filters": '{"user_id": "u1"}'}).json()["memories"]
    assert [m["id"] for m in listed] == [old]
    assert alice.get("/spaces/alice/memories", params={"filters": "{oops"}).status_code == 400
    [new] = alice.patch(f"/spaces/alice/memories/{old}", json={"text": "Vera Lund keeps goats in Orsa."}).json()[
        "memory_ids"
    ]
    versions = alice.get(f"/spaces/alice/memories/{new}/history").json()["versions"]
    assert [v["id"] for v in versions] == [old, new] and versions[0]["replaced_by"] == new
    assert client(server, BOB).put(f"/spaces/alice/memories/{new}", json={"text": "x"}).status_code == 404

    assert httpx2.get(server + "/v1/nothing", timeout=30).json()["error"]["type"] == "not_found_error"
    assert "no route" in httpx2.get(server + "/nothing", timeout=30).json()["detail"]
    health = httpx2.get(server + "/health", timeout=30).json()
    assert health["status"] == "ok" and health["version"] and health["engine"] in ("llama.cpp", "transformers")
    docs = httpx2.get(server + "/docs", timeout=30).text
    assert (
        "cdn" not in docs
        and httpx2.get(server + "/static-offline-docs/swagger-ui-bundle.js", timeout=30).status_code == 200
    )
    spec = httpx2.get(server + "/openapi.json", timeout=30).json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    operation_ids = [operation["operationId"] for methods in spec["paths"].values() for operation in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))  # PUT and PATCH of a memory once shared one
    contents = {
        f"{method} {path}": (
            operation["responses"].get("200") or operation["responses"].get("201") or operation["responses"].get("202")
        )["content"]
        for path, methods in spec["paths"].items()
        if not path.startswith("/v1/")
        for method, operation in methods.items()
    }
    untyped = [route for route, content in contents.items() if content.get("application/json", {}).get("schema") == {}]
    assert not untyped, untyped
    assert list(contents["get /bench/plot"]) == ["image/png"]
    assert list(contents["get /spaces/{space}/memories/{memory_id}/raw/original"]) == ["application/octet-stream"]


def test_openai_client_gets_answers_from_memory(server):
    client(server, ALICE).post("/spaces/alice/memories", json={"text": "Zorblat Industries was founded by Elna Varga."})
    openai = OpenAI(base_url=server + "/v1", api_key=ALICE)
    models = [m.id for m in openai.models.list()]
    assert "imprint/alice" in models and not any("bob" in m for m in models)

    question = [{"role": "user", "content": "Who founded Zorblat Industries?"}]
    reply = openai.chat.completions.create(model="imprint/alice", messages=question)
    assert "Elna Varga" in reply.choices[0].message.content
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in openai.chat.completions.create(model="imprint/alice", messages=question, stream=True)
    )
    assert streamed == reply.choices[0].message.content

    with pytest.raises(OpenAINotFound):
        openai.chat.completions.create(model="imprint/bob", messages=question)


def test_openai_system_messages_usage_errors_and_remember_behave_as_openai_clients_expect(server):
    from openai import AuthenticationError, BadRequestError

    alice = client(server, ALICE)
    alice.post("/spaces/alice/memories", json={"text": "Tomas Rehor's locker code is 4471."})
    openai = OpenAI(base_url=server + "/v1", api_key=ALICE)
    question = {"role": "user", "content": "What is Tomas Rehor's locker code?"}
    plain = openai.chat.completions.create(model="imprint/alice", messages=[question], extra_body={"strategy": "index"})
    styled = openai.chat.completions.create(
        model="imprint/alice",
        extra_body={"strategy": "index"},
        temperature=0.7,
        max_tokens=8,
        messages=[{"role": "system", "content": "Answer in French, with the digits only."}, question],
    )
    assert "4471" in plain.choices[0].message.content
    assert styled.usage.prompt_tokens > plain.usage.prompt_tokens  # the system message reached the prompt
    assert styled.usage.completion_tokens <= 8
    used = plain.model_extra["imprint"]
    assert used["strategy"] == "index" and used["memory_ids"]

    chunks = list(
        openai.chat.completions.create(
            model="imprint/alice", messages=[question], stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert any((c.model_extra or {}).get("imprint") for c in chunks)

    for extra, param in (({"n": 2}, "n"), ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools")):
        with pytest.raises(BadRequestError) as refused:
            openai.chat.completions.create(model="imprint/alice", messages=[question], **extra)
        assert refused.value.body["param"] == param and refused.value.body["type"] == "invalid_request_error"
    with pytest.raises(BadRequestError) as invalid:
        openai.chat.completions.create(model="imprint/alice", messages=[{"role": "user"}], temperature=5)
    assert "temperature" in invalid.value.body["message"] or "content" in invalid.value.body["message"]
    with pytest.raises(OpenAINotFound) as missing:
        openai.chat.completions.create(model="imprint/nobody", messages=[question])
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=server + "/v1", api_key="k-wrong").models.list()

    before = alice.get("/spaces/alice/memories", params={"limit": 1000}).json()["total"]
    remembered = openai.chat.completions.create(
        model="imprint/alice",
        extra_body={"remember": True, "strategy": "index"},
        messages=[{"role": "user", "content": "Remember that Tomas Rehor parks on level 3."}],
    )
    stored = alice.get("/spaces/alice/memories", params={"limit": 1000}).json()
    assert stored["total"] == before + 1  # the user's turn, not the answer's echo
    [turn] = [m for m in stored["memories"] if m["id"] in remembered.model_extra["imprint"]["remembered"]]
    assert "level 3" in turn["text"] and turn["time"]


def test_mcp_client_remembers_and_recalls_over_http(server):
    async def session(key: str, calls: list[tuple[str, dict]]) -> list:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300)
        async with Client(streamable_http_client(server + "/mcp", http_client=http)) as mcp:
            tools = {tool.name for tool in (await mcp.list_tools()).tools}
            assert {"remember", "recall", "ask", "forget"} <= tools
            return [await mcp.call_tool(name, arguments) for name, arguments in calls]

    stored, found, refused = asyncio.run(
        session(
            BOB,
            [
                ("remember", {"text": "The spare key is under the blue flowerpot.", "space": "bob-home"}),
                ("recall", {"query": "where is the spare key", "space": "bob-home", "k": 1}),
                ("recall", {"query": "Mira", "space": "alice"}),
            ],
        )
    )
    assert not stored.is_error and stored.structured_content["memory_ids"]
    assert "flowerpot" in found.structured_content["memories"][0]["text"]
    assert refused.is_error and "no space 'alice'" in refused.content[0].text

    assert httpx2.post(server + "/mcp", json={}, timeout=10).status_code == 401


def test_mcp_over_stdio(tmp_path):
    from mcp import StdioServerParameters

    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "imprint.cli", "mcp", "--space", "me", "--data", str(tmp_path)],
        env=os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )

    async def session() -> tuple:
        async with Client(command) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            calls = [
                await mcp.call_tool("remember", {"text": "My bike lock code is 8812.", "metadata": {"user_id": "u1"}}),
                await mcp.call_tool("recall", {"query": "bike lock", "k": 1, "filters": {"user_id": "u1"}}),
                await mcp.call_tool("forget", {"memory_id": 99}),
                await mcp.call_tool("update", {"memory_id": 1, "text": "My bike lock code is 9923."}),
                await mcp.call_tool("get_memory", {"memory_id": 1}),
                await mcp.call_tool("list_memories", {}),
                await mcp.call_tool("spaces", {}),
                await mcp.call_tool("recall", {"query": "bike", "space": "someone-else"}),
                await mcp.call_tool("forget_source", {"source": "mcp"}),
            ]
            return mcp.server_info, tools, calls

    server_info, tools, calls = asyncio.run(session())
    stored, found, missing, updated, got, listed, spaces, elsewhere, dropped = calls
    assert server_info.name == "imprint" and server_info.version
    assert tools["forget"].annotations.destructive_hint and tools["recall"].annotations.read_only_hint
    assert tools["ask"].input_schema["properties"]["strategy"]["enum"] == [
        "auto",
        "index",
        "context",
        "weights",
        "hybrid",
    ]
    assert all(p.get("description") for t in tools.values() for p in t.input_schema["properties"].values())
    assert stored.structured_content["memory_ids"] == [1]
    assert "8812" in found.structured_content["memories"][0]["text"]
    assert missing.is_error and "no memory 99" in missing.content[0].text
    [new_id] = updated.structured_content["memory_ids"]
    assert [v["id"] for v in got.structured_content["versions"]] == [1, new_id]
    assert [m["text"] for m in listed.structured_content["memories"]] == ["My bike lock code is 9923."]
    assert spaces.structured_content["spaces"] == ["me"]
    assert elsewhere.is_error and "serves space 'me' only" in elsewhere.content[0].text
    assert sorted(dropped.structured_content["memory_ids"]) == [1, new_id]


def test_a_remote_openai_compatible_server_answers_for_memory(server, tmp_path, embedder, model):
    """imprint's own /v1 endpoint (serving the bare base model) as the answer model of another Memory."""
    from imprint import Memory, ModelError, Settings

    settings = Settings(answer_url=server + "/v1", answer_model="gemma3-270m", remote_api_key=ALICE)
    remote = Memory(tmp_path / "data", settings=settings, embedder=embedder, model=model)
    remote.add("Mira Quenton moved to Tallinn in 2021.", space="s")
    answer = remote.ask("Which city did Mira Quenton move to?", space="s", strategy="index")
    assert "Tallinn" in answer.text and answer.prompt_tokens > 50

    broken = Memory(
        tmp_path / "data",
        settings=settings.model_copy(update={"answer_url": "http://127.0.0.1:9/v1"}),
        embedder=embedder,
        model=model,
    )
    with pytest.raises(ModelError, match="127.0.0.1:9"):
        broken.ask("Which city did Mira Quenton move to?", space="s", strategy="index")


def test_consolidation_runs_as_a_background_job_with_progress(tmp_path, tiny_model_dir):
    """A server on the tiny model: start the job, poll it, then the adapter answers."""
    settings = {"IMPRINT_MODEL": str(tiny_model_dir), "IMPRINT_CACHE_DIR": str(tiny_model_dir / "cache")}
    with running_server(tmp_path / "data", env=settings) as url:
        http = httpx2.Client(base_url=url, timeout=120)
        http.post("/spaces/a/memories", json={"text": "Zorblat Industries was founded by Kerem Aslan."})
        started = http.post(
            "/spaces/a/consolidate", json={"epochs": 2, "replay": 0, "min_recall": 0, "min_retention": 0}
        )
        assert started.status_code == 202
        deadline = time.monotonic() + 300
        while (job := http.get(f"/jobs/{started.json()['job']}").json())["status"] == "running":
            assert time.monotonic() < deadline, job
            time.sleep(1)
        assert job["status"] == "done", job["error"]
        assert any("epoch 1/2" in line for line in job["log"]) and job["result"]["version"] == 1
        assert http.get("/spaces/a/adapters").json()["current"] == 1
        answer = http.post("/spaces/a/ask", json={"question": "Who founded Zorblat Industries?", "strategy": "weights"})
        assert answer.status_code == 200 and answer.json()["strategy"] == "weights"
        assert http.get("/jobs/nope").status_code == 404
        # a second job cancelled at its next progress line: no new version, the current one stays
        second = http.post(
            "/spaces/a/consolidate", json={"epochs": 2, "replay": 0, "min_recall": 0, "min_retention": 0}
        )
        assert http.post(f"/jobs/{second.json()['job']}/cancel").json()["status"] in {"cancelling", "cancelled"}
        while (job := http.get(f"/jobs/{second.json()['job']}").json())["status"] == "cancelling":
            assert time.monotonic() < deadline + 120, job
            time.sleep(0.5)
        assert job["status"] == "cancelled", job
        assert http.get("/spaces/a/adapters").json()["current"] == 1


# any text, including what a buggy client sends: lone surrogates and NUL
any_text = st.lists(st.characters() | st.sampled_from(["\ud800", "\udfff", "\x00"]), max_size=40).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
memory_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"text": any_text | st.text(max_size=200)},
        optional={"source": any_text, "time": any_text, "metadata": json_values},
    ),
    st.fixed_dictionaries(
        {
            "turns": st.lists(
                st.fixed_dictionaries({"speaker": any_text, "text": any_text}, optional={"time": any_text}), max_size=3
            )
        }
    ),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=memory_bodies, path=st.sampled_from(["/spaces/alice/memories", "/spaces/alice/turns"]))
def test_any_json_body_is_stored_whole_or_refused_with_4xx_never_a_500(server, body, path):
    alice = client(server, ALICE)
    alice.post("/spaces/alice/memories", json={"text": "the space exists"})
    before = alice.get("/spaces/alice/memories", params={"limit": 1}).json()["total"]
    last_id = alice.get("/spaces/alice/memories", params={"offset": before - 1}).json()["memories"][0]["id"]
    # json.dumps escapes lone surrogates as \\udXXX, which is valid JSON a strict client would refuse to send
    response = alice.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (201, 400, 422), response.text
    after = alice.get("/spaces/alice/memories", params={"limit": 1}).json()["total"]
    if response.status_code == 201:
        stored = [alice.get(f"/spaces/alice/memories/{i}") for i in response.json()["memory_ids"]]
        assert all(r.status_code == 200 for r in stored)
        # older ids: the same item again, stored once; dropped: kept raw, not a memory (filler, a repeat)
        assert after == before + sum(r.json()["id"] > last_id and r.json()["dropped"] is None for r in stored)
    else:
        assert after == before and "detail" in response.json()


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=300), name=st.sampled_from(["a.txt", "b.json", "c.jsonl", "d.html", "e.pdf", "f"]))
def test_any_uploaded_bytes_are_stored_or_refused_with_a_reason(server, data, name):
    response = client(server, ALICE).post("/spaces/alice/files", files={"file": (name, data)})
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert name in response.json()["detail"]


def test_malformed_and_oversized_requests_get_a_4xx_naming_the_problem(server):
    alice = client(server, ALICE)
    alice.post("/spaces/alice/memories", json={"text": "the space exists"})
    huge = "99999999999999999999"
    for path in (
        f"/spaces/alice/memories?limit={huge}",
        f"/spaces/alice/memories?offset={huge}",
        f"/spaces/alice/memories/{huge}",
        "/spaces/alice/dropped?limit=-1",
    ):
        assert alice.get(path).status_code == 422, path
    assert alice.delete(f"/spaces/alice/memories/{huge}").status_code == 422
    for name in ("..", ".", "a" * 300 + ".txt", "bad\x00name.txt"):  # raw multipart: clients would clean the name
        body = (
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
            + name.encode()
            + b'"\r\nContent-Type: text/plain\r\n\r\nsome text\r\n--b0undary--\r\n'
        )
        response = alice.post(
            "/spaces/alice/files", content=body, headers={"content-type": "multipart/form-data; boundary=b0undary"}
        )
        assert response.status_code == 400 and "bad upload file name" in response.json()["detail"], (
            name,
            response.text,
        )
    broken = alice.post("/spaces/alice/files", files={"file": ("notes.txt", b"\xef\xbb\xbfok \xff broken")})
    assert broken.status_code == 400 and broken.json()["detail"].startswith("notes.txt: not valid UTF-8")
    assert "/tmp" not in broken.text and "/data" not in broken.text
    assert alice.post("/spaces/alice/search", json={"query": "word " * 200_000}).status_code == 422
    assert alice.post("/spaces/alice/turns", json={"turns": [{"text": "hi"}] * 10_001}).status_code == 422
    too_big = alice.post(
        "/spaces/alice/memories",
        content=b'{"text": "' + b"x" * 9_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert too_big.status_code == 413
    # a prompt over the model's window: the limit, not a 500
    long = OpenAI(base_url=server + "/v1", api_key=ALICE, max_retries=0)
    with pytest.raises(Exception) as refused:
        long.chat.completions.create(model="gemma3-270m", messages=[{"role": "user", "content": "word " * 40_000}])
    assert refused.value.status_code == 400 and "tokens" in refused.value.response.text
    assert alice.get("/spaces/alice/memories").json()["total"] >= 1


def test_a_keyless_loopback_server_refuses_foreign_hosts_and_cross_site_pages(tmp_path):
    with running_server(tmp_path / "data") as url:
        port = url.rsplit(":", 1)[1]
        http = httpx2.Client(base_url=url, timeout=60)
        assert http.post("/spaces/s/memories", json={"text": "private note"}).status_code == 201
        evil_page = http.post(
            "/spaces/s/files", files={"file": ("x.txt", b"planted")}, headers={"Origin": "http://evil.example"}
        )
        assert evil_page.status_code == 403
        assert (
            http.post(
                "/spaces/s/memories", json={"text": "planted"}, headers={"Sec-Fetch-Site": "cross-site"}
            ).status_code
            == 403
        )
        rebound = http.get("/spaces/s/memories", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 421 and "private" not in rebound.text
        same_origin = http.post(
            "/spaces/s/memories",
            json={"text": "from the docs page"},
            headers={"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
        )
        assert same_origin.status_code == 201
        texts = [m["text"] for m in http.get("/spaces/s/memories").json()["memories"]]
        assert texts == ["private note", "from the docs page"]


def test_a_space_deleted_by_another_process_answers_404_in_the_server(server, tmp_path):
    """The server holds the space open; the CLI deletes it; the server must not serve or write the old file."""
    from imprint import Memory

    bob = client(server, BOB)
    assert bob.post("/spaces/bob-x/memories", json={"text": "Bob's old secret is 1234."}).status_code == 201
    data = DATA_DIRS[server]
    Memory(data).forget_space("bob-x")
    assert bob.get("/spaces/bob-x/memories").status_code == 404
    assert bob.post("/spaces/bob-x/search", json={"query": "secret"}).status_code == 404
    assert bob.post("/spaces/bob-x/memories", json={"text": "a new start"}).status_code == 201
    assert [m.text for m in Memory(data).list_memories("bob-x")] == ["a new start"]


def test_a_download_name_is_derived_safely_from_any_stored_source():
    from imprint.serve.rest import download_name
    from imprint.serve.schemas import MAX_NAME_CHARS

    assert download_name("upload:report.pdf") == "report.pdf"
    assert download_name("/home/a/notes\nevil.txt") == "notesevil.txt"
    long = download_name("a" * 400 + ".txt")
    assert len(long) == MAX_NAME_CHARS and long.endswith(".txt")
    assert download_name("..") == download_name("/") == download_name("\x1b") == "item.txt"
