"""The server through plain HTTP: generate and generate_stream (SSE),
Prometheus metrics, every bad-input case (each a clear error while the
server keeps serving), queue policy (max queue size, priorities, timeouts),
clients that vanish or stall, explicit model control and SIGTERM draining.
Waits are bounded; nothing asserts a duration."""
import json
import re
import socket
import struct
import threading
import time

import pytest

requests = pytest.importorskip("requests")

from conftest import BIN, Server, need  # noqa: E402


def post(server, path, body=None, raw=None, headers=None, timeout=60):
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return requests.post(server.base + path, data=data, headers=headers or {}, timeout=timeout)


def infer_body(texts, shape=None, **params):
    b = {"inputs": [{"name": "text_input", "datatype": "BYTES",
                     "shape": shape or [len(texts), 1], "data": texts}]}
    if params:
        b["parameters"] = params
    return b


def raw_request(port, path, body: bytes, extra=b""):
    """Sends a POST on a new socket and returns the socket (response unread)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return s


def read_response(s):
    """Reads one HTTP response (Content-Length framed); returns (status, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    s.close()
    return status, body


def assert_alive(server):
    r = post(server, "/v2/models/echo/infer", infer_body(["still here"]))
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == ["still here"]


# ---- generate -------------------------------------------------------------

def test_generate(server):
    r = post(server, "/v2/models/byt5/generate",
             {"text_input": "hello world", "parameters": {"max_new_tokens": 4, "return_scores": True,
                                                          "return_ids": True}})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["model_name"] == "byt5" and j["model_version"] == "1"
    assert isinstance(j["text_output"], str)
    assert isinstance(j["sequence_score"], float)
    assert 1 <= len(j["output_ids"]) <= 4
    r = post(server, "/v2/models/echo/versions/1/generate", {"text_input": "abc", "max_new_tokens": 3})
    assert r.json()["text_output"] == "abc"


def stream_events(server, path, body):
    with requests.post(server.base + path, json=body, stream=True, timeout=120) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        return [json.loads(line[len(b"data: "):]) for line in r.iter_lines() if line.startswith(b"data: ")]


def test_generate_stream(server):
    ev = stream_events(server, "/v2/models/echo/generate_stream", {"text_input": "stream me word by word"})
    assert len(ev) >= 5  # one event per word, then the final one
    assert "".join(e["text_output"] for e in ev) == "stream me word by word"
    r = post(server, "/v2/models/byt5/generate_stream", {"text_input": "x", "num_beams": 99})
    assert r.status_code == 400 and "num_beams" in r.json()["error"]
    r = post(server, "/v2/models/byt5/generate_stream", {"text_input": ["a", "b"]})
    assert r.status_code == 400 and "one text_input" in r.json()["error"]


def test_inflight_refuses_bad_rows_at_once(server):
    """The in-flight scheduler tokenizes and checks rows when a request is
    submitted: too many tokens or an impossible beam count is a 400 with the
    reason, and the model keeps answering."""
    r = post(server, "/v2/models/byt5i/generate", {"text_input": "x" * 200})  # max_input_tokens 64
    assert r.status_code == 400 and "the limit is 64" in r.json()["error"], r.text
    r = post(server, "/v2/models/byt5i/generate", {"text_input": "x", "num_beams": 99})
    assert r.status_code == 400 and "num_beams" in r.json()["error"], r.text
    r = post(server, "/v2/models/byt5i/generate", {"text_input": "ok", "max_new_tokens": 3})
    assert r.status_code == 200 and "text_output" in r.json(), r.text


@pytest.mark.parametrize("params", [{"max_new_tokens": 8}, {"max_new_tokens": 6, "num_beams": 2},
                                    {"do_sample": True, "seed": 11, "max_new_tokens": 8}])
def test_generate_stream_matches_generate(server, params):
    """The streamed pieces add up to what generate returns, with the score
    and ids in the final event."""
    body = {"text_input": "hello world", "parameters": {**params, "return_scores": True, "return_ids": True}}
    full = post(server, "/v2/models/byt5/generate", body).json()
    ev = stream_events(server, "/v2/models/byt5/generate_stream", body)
    assert "".join(e["text_output"] for e in ev) == full["text_output"]
    assert ev[-1]["output_ids"] == full["output_ids"]
    assert abs(ev[-1]["sequence_score"] - full["sequence_score"]) < 1e-5


def test_generate_stream_inflight(server):
    """Under the in-flight scheduler (byt5i) generate_stream also sends text
    as it is generated, and the pieces add up to what generate returns."""
    body = {"text_input": "hello world",
            "parameters": {"max_new_tokens": 12, "min_new_tokens": 12, "return_ids": True}}
    full = post(server, "/v2/models/byt5i/generate", body).json()
    ev = stream_events(server, "/v2/models/byt5i/generate_stream", body)
    assert len(ev) >= 2  # pieces before the final event
    assert "".join(e["text_output"] for e in ev) == full["text_output"]
    assert ev[-1]["output_ids"] == full["output_ids"]


def test_generate_stream_client_leaves(server):
    for i in range(3):
        s = raw_request(server.port, "/v2/models/byt5/generate_stream",
                        json.dumps({"text_input": f"bye {i}", "max_new_tokens": 32, "min_new_tokens": 32}).encode())
        s.recv(10)  # the headers have started: the request is running
        s.close()
    s = raw_request(server.port, "/v2/models/slow/generate_stream", json.dumps({"text_input": "queued"}).encode())
    s.close()
    assert_alive(server)
    ev = stream_events(server, "/v2/models/echo/generate_stream", {"text_input": "after"})
    assert "".join(e["text_output"] for e in ev) == "after"


# ---- metrics --------------------------------------------------------------

def metric(text, name, model):
    m = re.search(rf'^{name}{{model="{model}",version="1"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


def test_metrics(server):
    before = requests.get(server.metrics_url, timeout=30).text
    for i in range(3):
        assert post(server, "/v2/models/echo/infer", infer_body([f"m{i}", "x"])).status_code == 200
    assert post(server, "/v2/models/echo/infer", {"inputs": []}).status_code == 400
    text = requests.get(server.metrics_url, timeout=30).text
    for name in ("nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
                 "nv_inference_exec_count", "nv_inference_request_duration_us",
                 "nv_inference_queue_duration_us", "nv_inference_compute_input_duration_us",
                 "nv_inference_compute_infer_duration_us", "nv_inference_compute_output_duration_us",
                 "nv_inference_pending_request_count"):
        assert f"# TYPE {name} " in text, name
        assert metric(text, name, "echo") is not None, name
    assert metric(text, "nv_inference_request_success", "echo") >= (metric(before, "nv_inference_request_success", "echo") or 0) + 3
    assert metric(text, "nv_inference_count", "echo") >= (metric(before, "nv_inference_count", "echo") or 0) + 6
    assert metric(text, "nv_inference_request_failure", "echo") >= 1
    assert requests.get(server.metrics_url.replace("/metrics", "/other"), timeout=30).status_code == 404


# ---- bad input: a clear error each, and the server keeps serving -------------

BAD = [
    ("malformed json", "/v2/models/echo/infer", b'{"inputs": [', 400, "malformed JSON"),
    ("not an object", "/v2/models/echo/infer", b'[1,2]', 400, "JSON object"),
    ("no inputs", "/v2/models/echo/infer", b'{}', 400, "inputs"),
    ("wrong datatype", "/v2/models/echo/infer",
     json.dumps({"inputs": [{"name": "text_input", "datatype": "FP32", "shape": [1], "data": [1.0]}]}).encode(),
     400, "expects 'BYTES'"),
    ("wrong input name", "/v2/models/echo/infer",
     json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}]}).encode(),
     400, "unexpected inference input"),
    ("wrong shape", "/v2/models/echo/infer", json.dumps(infer_body(["a", "b"], shape=[1, 2])).encode(),
     400, "shape"),
    ("count mismatch", "/v2/models/echo/infer", json.dumps(infer_body(["a"], shape=[3, 1])).encode(),
     400, "number of string elements"),
    ("non-string data", "/v2/models/echo/infer", json.dumps(infer_body([1])).encode(), 400, "string"),
    ("invalid utf-8", "/v2/models/echo/infer",
     b'{"inputs":[{"name":"text_input","datatype":"BYTES","shape":[1],"data":["\xff\xfe"]}]}', 400, "UTF-8"),
    ("batch too large", "/v2/models/echo/infer", json.dumps(infer_body(["a"] * 9)).encode(), 400,
     "batch-size must be <= 8"),
    ("unknown output", "/v2/models/echo/infer",
     json.dumps({**infer_body(["a"]), "outputs": [{"name": "logits"}]}).encode(), 400, "unexpected inference output"),
    ("bad parameter type", "/v2/models/echo/infer",
     json.dumps(infer_body(["a"], max_new_tokens="many")).encode(), 400, "max_new_tokens"),
    ("too many new tokens", "/v2/models/byt5/infer",
     json.dumps(infer_body(["a"], max_new_tokens=33)).encode(), 400, "max_new_tokens"),
    ("bad priority", "/v2/models/slow/infer", json.dumps(infer_body(["a"], priority=5)).encode(), 400, "priority"),
    ("too many input tokens", "/v2/models/byt5/infer", json.dumps(infer_body(["x" * 100])).encode(), 400,
     "tokens"),
    ("text too long", "/v2/models/byt5/infer", json.dumps(infer_body(["x" * 5000])).encode(), 400, "limit"),
    ("unknown model", "/v2/models/nope/infer", json.dumps(infer_body(["a"])).encode(), 404, "unknown model"),
    ("unknown version", "/v2/models/echo/versions/9/infer", json.dumps(infer_body(["a"])).encode(), 404,
     "version 9"),
    ("bad version", "/v2/models/echo/versions/x1/infer", json.dumps(infer_body(["a"])).encode(), 404, "version"),
    ("model failed to load", "/v2/models/broken/infer", json.dumps(infer_body(["a"])).encode(), 503, "not ready"),
    ("generate without text", "/v2/models/echo/generate", b'{"x": 1}', 400, "text_input"),
    ("unknown path", "/v2/nothing/here", b'{}', 404, "Not Found"),
]


@pytest.mark.parametrize("name,path,body,status,msg", BAD, ids=[b[0] for b in BAD])
def test_bad_request(server, name, path, body, status, msg):
    r = post(server, path, raw=body)
    assert r.status_code == status, r.text
    assert msg in r.json()["error"], r.json()
    assert_alive(server)


def test_wrong_method(server):
    r = requests.get(server.base + "/v2/models/echo/infer", timeout=30)
    assert r.status_code == 405 and "error" in r.json()
    r = requests.delete(server.base + "/v2/models/echo", timeout=30)
    assert r.status_code == 405


def binary_body(texts, declared=None, header_extra=0):
    data = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    hdr = json.dumps({"inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [len(texts), 1],
                                  "parameters": {"binary_data_size": declared if declared is not None else len(data)}}],
                      "parameters": {"binary_data_output": True}}).encode()
    return hdr + data, len(hdr) + header_extra


def test_binary_tensors(server):
    body, hl = binary_body([b"one", "twö".encode()])
    r = post(server, "/v2/models/echo/infer", raw=body,
             headers={"Inference-Header-Content-Length": str(hl), "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    jl = int(r.headers["Inference-Header-Content-Length"])
    head = json.loads(r.content[:jl])
    (out,) = head["outputs"]
    assert out["parameters"]["binary_data_size"] == len(r.content) - jl
    data, got = r.content[jl:], []
    while data:
        (n,) = struct.unpack("<I", data[:4])
        got.append(data[4:4 + n].decode())
        data = data[4 + n:]
    assert got == ["one", "twö"]


@pytest.mark.parametrize("case", ["size past end", "header past end", "bad header", "element overrun",
                                  "bad utf8"])
def test_bad_binary_tensors(server, case):
    if case == "size past end":
        body, hl = binary_body([b"abc"], declared=100)
    elif case == "header past end":
        body, hl = binary_body([b"abc"], header_extra=1000)
    elif case == "bad header":
        body, hl = binary_body([b"abc"])
        hl = "12x"
    elif case == "element overrun":
        body, hl = binary_body([b"abc"])
        body = body[:-7] + struct.pack("<I", 99) + b"abc"
    else:
        body, hl = binary_body([b"\xc3\x28"])
    r = post(server, "/v2/models/echo/infer", raw=body, headers={"Inference-Header-Content-Length": str(hl)})
    assert r.status_code == 400 and r.json()["error"], r.text
    assert_alive(server)


def test_oversized_body(server):
    body = b'{"inputs":[{"name":"text_input","datatype":"BYTES","shape":[1],"data":["' + b"x" * (17 << 20) + b'"]}]}'
    try:
        r = post(server, "/v2/models/echo/infer", raw=body)
        assert r.status_code == 413 and "exceeds the limit" in r.json()["error"]
    except requests.ConnectionError:
        pass  # the server may close the connection before reading the rest
    s = raw_request(server.port, "/v2/models/echo/infer", b"", extra=b"Content-Length: 999999999\r\n")
    status, body = read_response(s)
    assert status in (400, 413)
    assert_alive(server)


def test_compressed_body_rejected(server):
    r = post(server, "/v2/models/echo/infer", raw=b"\x1f\x8b...", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "Content-Encoding" in r.json()["error"]


# ---- queue policy -----------------------------------------------------------

def test_max_queue_size_and_priority(server):
    """slow: one 1.5 s execution at a time, a queue of 2 per level. Six
    requests sent at once: one runs, two wait, the rest are rejected with
    Triton's message; a priority-1 request still finds room in its level."""
    socks = [raw_request(server.port, "/v2/models/slow/infer",
                         json.dumps(infer_body([f"q{i}"])).encode()) for i in range(6)]
    hi = raw_request(server.port, "/v2/models/slow/infer",
                     json.dumps(infer_body(["high"], priority=1)).encode())
    results = [read_response(s) for s in socks]
    codes = [c for c, _ in results]
    assert codes.count(200) <= 3 and codes.count(503) >= 3, codes
    for c, b in results:
        if c == 503:
            assert b"Exceeds maximum queue size" in b
    assert read_response(hi)[0] == 200
    assert_alive(server)


def test_queue_timeout(server):
    first = raw_request(server.port, "/v2/models/slow/infer", json.dumps(infer_body(["busy"])).encode())
    time.sleep(0.2)  # let it start; the outcome below does not depend on timing
    second = raw_request(server.port, "/v2/models/slow/infer",
                         json.dumps(infer_body(["late"], timeout=1000)).encode())
    assert read_response(first)[0] == 200
    status, body = read_response(second)
    assert status == 503 and b"timeout" in body


# ---- clients that vanish or stall ---------------------------------------------

def test_vanishing_client(server):
    for i in range(3):
        s = raw_request(server.port, "/v2/models/slow/infer", json.dumps(infer_body([f"gone{i}"])).encode())
        s.close()
    s = raw_request(server.port, "/v2/models/byt5/infer", json.dumps(infer_body(["gone too"])).encode())
    s.close()
    assert_alive(server)
    # a half-sent body, then the client disappears
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp")
    s.close()
    assert_alive(server)
    # the slow model finishes its queue (bounded wait), and counts the cancellations
    for _ in range(100):
        r = post(server, "/v2/models/slow/infer", infer_body(["after"]), timeout=60)
        if r.status_code == 200:
            break
        time.sleep(0.2)
    assert r.status_code == 200


def test_stalled_client_does_not_block_others(server):
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    stalled.sendall(b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Len")
    for _ in range(5):
        assert_alive(server)
    stalled.close()


def test_keep_alive_many_requests(server):
    with requests.Session() as sess:
        for i in range(50):
            r = sess.post(server.base + "/v2/models/echo/infer", json=infer_body([f"k{i}"]), timeout=30)
            assert r.json()["outputs"][0]["data"] == [f"k{i}"]


def test_concurrent_clients(server):
    errors = []

    def worker(k):
        try:
            with requests.Session() as sess:
                for i in range(10):
                    t = f"c{k}-{i}"
                    r = sess.post(server.base + "/v2/models/echo/infer", json=infer_body([t]), timeout=60)
                    if r.json()["outputs"][0]["data"] != [t]:
                        errors.append((t, r.text))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    th = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join(120)
    assert not errors


def test_connection_limit(repo):
    """--http-max-connections: past the limit a new connection gets no answer;
    once one closes, requests are served again; a bad value is refused."""
    import subprocess
    need(BIN)
    p = subprocess.run([BIN, "serve", "--model-repository", str(repo), "--http-max-connections", "0"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--http-max-connections" in p.stderr
    s = Server(BIN, repo, "--http-max-connections", "3")
    try:
        idle = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(3)]
        time.sleep(0.3)
        with pytest.raises(requests.RequestException):
            requests.post(s.base + "/v2/models/echo/infer", json=infer_body(["over"]), timeout=3)
        idle.pop().close()
        time.sleep(0.3)
        r = requests.post(s.base + "/v2/models/echo/infer", json=infer_body(["under"]), timeout=30)
        assert r.json()["outputs"][0]["data"] == ["under"]
        for sock in idle:
            sock.close()
    finally:
        assert s.stop() == 0, s.output()


# ---- explicit model control, SIGTERM ----------------------------------------------

def test_explicit_model_control(repo):
    need(BIN)
    s = Server(BIN, repo, "--model-control-mode", "explicit", "--load-model", "echo")
    try:
        idx = {m["name"]: m for m in post(s, "/v2/repository/index", {}).json()}
        assert idx["echo"]["state"] == "READY"
        assert idx["byt5"]["state"] == "UNAVAILABLE"
        assert post(s, "/v2/repository/index", {"ready": True}).json() == [idx["echo"]]
        assert post(s, "/v2/models/byt5/infer", infer_body(["x"])).status_code == 503
        r = post(s, "/v2/repository/models/byt5/load")
        assert r.status_code == 200, r.text
        assert requests.get(s.base + "/v2/models/byt5/ready", timeout=30).status_code == 200
        assert post(s, "/v2/models/byt5/infer", infer_body(["x"])).status_code == 200
        assert post(s, "/v2/repository/models/byt5/unload").status_code == 200
        assert requests.get(s.base + "/v2/models/byt5/ready", timeout=30).status_code == 400
        assert post(s, "/v2/models/byt5/infer", infer_body(["x"])).status_code == 503
        r = post(s, "/v2/repository/models/broken/load")
        assert r.status_code == 400 and "config.pbtxt" in r.json()["error"]
        r = post(s, "/v2/repository/models/absent/load")
        assert r.status_code == 400 and "absent" in r.json()["error"]
        assert post(s, "/v2/repository/models/echo/load").status_code == 200  # reload
        assert_alive(s)
    finally:
        assert s.stop() == 0, s.output()


def test_sigterm_drains_in_flight(repo):
    need(BIN)
    s = Server(BIN, repo)
    socks = [raw_request(s.port, "/v2/models/slow/infer", json.dumps(infer_body([f"d{i}"])).encode())
             for i in range(2)]
    # Wait (bounded) until both are accepted, i.e. visible as pending.
    for _ in range(200):
        text = requests.get(s.metrics_url, timeout=30).text
        if (metric(text, "nv_inference_pending_request_count", "slow") or 0) >= 2:
            break
        time.sleep(0.05)
    # clients that vanish halfway through their body must not hold the drain up
    body = json.dumps(infer_body(["partial"])).encode()
    for k in range(5):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        c.sendall(b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body[:5 + k])
        c.close()
    assert s.stop() == 0, s.output()
    assert "still open" not in s.output(), s.output()
    for sock in socks:
        status, body = read_response(sock)
        assert status == 200, body
        assert json.loads(body)["outputs"][0]["data"][0].startswith("d")
    assert "draining" in s.output()


def test_instance_groups(tmp_path):
    """Several CPU instance groups share one loaded model; KIND_GPU on a
    build without CUDA is a clear load error for that model only."""
    import shutil
    from conftest import FIXTURE_MODEL, make_repo
    need(BIN)
    repo = make_repo(tmp_path / "models")
    for name, groups in (("groups", "[ { count: 1 kind: KIND_CPU }, { count: 2 kind: KIND_CPU } ]"),
                         ("gpu", "[ { count: 1 kind: KIND_GPU gpus: [ 0 ] } ]")):
        (repo / name / "1").mkdir(parents=True)
        for f in FIXTURE_MODEL.iterdir():
            shutil.copy(f, repo / name / "1" / f.name)
        (repo / name / "config.pbtxt").write_text(
            f'max_batch_size: 4\ndynamic_batching {{ }}\ninstance_group {groups}\n'
            'parameters { key: "n_threads" value: { string_value: "1" } }\n')
    s = Server(BIN, repo, "--model-control-mode", "explicit", "--load-model", "echo")
    try:
        assert post(s, "/v2/repository/models/groups/load").status_code == 200
        cfg = requests.get(s.base + "/v2/models/groups/config", timeout=30).json()
        assert [g["count"] for g in cfg["instance_group"]] == [1, 2]
        results = [post(s, "/v2/models/groups/infer", infer_body([f"g{i}"])) for i in range(6)]
        assert all(r.status_code == 200 for r in results)
        r = post(s, "/v2/repository/models/gpu/load", timeout=300)
        assert r.status_code == 200 or "CUDA" in r.json()["error"] or "cuda" in r.json()["error"], r.text
        assert_alive(s)
    finally:
        assert s.stop() == 0, s.output()
    assert "loaded model 'groups' version 1 (3 instances: 0 on CUDA, 3 on CPU" in s.output()


def cache_stats(server, model):
    (m,) = requests.get(f"{server.base}/v2/models/{model}/stats", timeout=30).json()["model_stats"]
    return m["inference_stats"]["cache_hit"]["count"], m["inference_stats"]["cache_miss"]["count"]


def test_response_cache(server):
    """response_cache { enable: true }: a repeated request is answered from
    the cache with the same outputs; sampling without a seed is never
    cached; hits and misses show in statistics and metrics."""
    body = {**infer_body(["cache me", "and me"], max_new_tokens=5),
            "outputs": [{"name": "text_output"}, {"name": "output_ids"}, {"name": "sequence_score"}]}
    h0, m0 = cache_stats(server, "cached")
    first = post(server, "/v2/models/cached/infer", body).json()
    second = post(server, "/v2/models/cached/infer", body).json()
    assert first == second
    assert cache_stats(server, "cached") == (h0 + 1, m0 + 1)
    # the same texts with other parameters are another entry
    other = post(server, "/v2/models/cached/infer", {**body, "parameters": {"max_new_tokens": 4}}).json()
    assert cache_stats(server, "cached") == (h0 + 1, m0 + 2)
    assert other["outputs"][1]["shape"][2] <= 4
    # generate shares the entries (same texts and parameters, another rendering)
    g = post(server, "/v2/models/cached/generate", {"text_input": "cache me", "max_new_tokens": 5}).json()
    g2 = post(server, "/v2/models/cached/generate", {"text_input": "cache me", "max_new_tokens": 5}).json()
    assert g == g2 and cache_stats(server, "cached") == (h0 + 2, m0 + 3)
    # sampling: cached only with an explicit seed
    sample = {"text_input": "x", "do_sample": True, "max_new_tokens": 3}
    for _ in range(2):
        post(server, "/v2/models/cached/generate", sample)
    assert cache_stats(server, "cached") == (h0 + 2, m0 + 3)
    for _ in range(2):
        post(server, "/v2/models/cached/generate", {**sample, "seed": 5})
    assert cache_stats(server, "cached") == (h0 + 3, m0 + 4)
    # a model without response_cache never uses it
    post(server, "/v2/models/byt5/infer", body)
    post(server, "/v2/models/byt5/infer", body)
    assert cache_stats(server, "byt5") == (0, 0)
    text = requests.get(server.metrics_url, timeout=30).text
    assert metric(text, "nv_cache_num_hits_per_model", "cached") == h0 + 3
    assert metric(text, "nv_cache_num_misses_per_model", "cached") == m0 + 4
