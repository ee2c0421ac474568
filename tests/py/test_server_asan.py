"""The server under ThreadSanitizer ($T5SERVE_TSAN, a -DT5_TSAN=ON build)
and AddressSanitizer + UndefinedBehaviorSanitizer
($T5SERVE_ASAN, built by `make test-asan`): a battery of good and bad
requests, JSON and binary, a real T5 model, vanishing clients, explicit
load/unload, then SIGTERM. The process must exit 0 with no sanitizer report
(leaks included)."""
import json
import socket
import struct

import pytest

requests = pytest.importorskip("requests")

import threading
import time

from conftest import BIN_ASAN, BIN_TSAN, Server, need  # noqa: E402
from test_server_http import (BAD, binary_body, infer_body, metric, post, raw_request,  # noqa: E402
                              read_response)


def slow_pending(s):
    text = requests.get(s.metrics_url, timeout=60).text
    return metric(text, "nv_inference_pending_request_count", "slow") or 0


def test_asan_battery(repo):
    need(BIN_ASAN)
    s = Server(BIN_ASAN, repo, "--model-control-mode", "explicit", "--load-model", "echo",
               "--load-model", "byt5", "--load-model", "slow", "--load-model", "cached",
               "--load-model", "byt5i",
               env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
                    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=24"})
    try:
        for _, path, body, _, _ in BAD:
            r = post(s, path, raw=body, timeout=120)
            assert r.status_code >= 400
        for t in (["a"], ["hello world", "b"], ["ünï", ""]):
            assert post(s, "/v2/models/echo/infer", infer_body(t), timeout=120).status_code == 200
        r = post(s, "/v2/models/byt5/infer",
                 {**infer_body(["hello", "world!"], num_beams=2, num_return_sequences=2, max_new_tokens=4),
                  "outputs": [{"name": "text_output"}, {"name": "output_ids", "parameters": {"binary_data": True}},
                              {"name": "sequence_score"}]}, timeout=300)
        assert r.status_code == 200, r.text
        r = post(s, "/v2/models/byt5/generate", {"text_input": "abc", "do_sample": True, "seed": 3,
                                                  "top_k": 5, "max_new_tokens": 3}, timeout=300)
        assert r.status_code == 200, r.text
        r = post(s, "/v2/models/byt5/generate_stream", {"text_input": "abc", "max_new_tokens": 2}, timeout=300)
        assert r.status_code == 200
        for model in ("cached", "cached", "byt5i"):  # a miss, a hit, the in-flight scheduler
            r = post(s, f"/v2/models/{model}/infer", infer_body(["same", "texts"], num_beams=2), timeout=300)
            assert r.status_code == 200, r.text
        r = post(s, "/v2/models/byt5i/generate_stream", {"text_input": "abc", "max_new_tokens": 2}, timeout=300)
        assert r.status_code == 200
        body, hl = binary_body([b"bin", b"ary"])
        r = post(s, "/v2/models/echo/infer", raw=body, headers={"Inference-Header-Content-Length": str(hl)})
        assert r.status_code == 200
        for bad in (body[:-2], body + b"zz"):
            r = post(s, "/v2/models/echo/infer", raw=bad, headers={"Inference-Header-Content-Length": str(hl)})
            assert r.status_code == 400
        r = post(s, "/v2/models/echo/infer", raw=body[:hl] + struct.pack("<I", 2**31) + b"x",
                 headers={"Inference-Header-Content-Length": str(hl)})
        assert r.status_code == 400
        # vanishing clients, queued and running
        for i in range(3):
            raw_request(s.port, "/v2/models/slow/infer", json.dumps(infer_body([f"v{i}"])).encode()).close()
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        c.sendall(b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        c.close()
        assert requests.get(s.base + "/v2/models/stats", timeout=60).status_code == 200
        assert requests.get(s.metrics_url, timeout=60).status_code == 200
        assert requests.get(s.base + "/v2/models/byt5/config", timeout=60).status_code == 200
        assert post(s, "/v2/repository/index", {}).status_code == 200
        assert post(s, "/v2/repository/models/plain/load", timeout=300).status_code == 200
        assert post(s, "/v2/models/plain/infer", infer_body(["p"]), timeout=300).status_code == 200
        assert post(s, "/v2/repository/models/plain/unload", timeout=300).status_code == 200
        assert post(s, "/v2/repository/models/broken/load", timeout=300).status_code == 400
        # a request in flight at SIGTERM: wait (bounded) for the queue to
        # empty, send it, and stop once the server has accepted it
        for _ in range(600):
            if not slow_pending(s):
                break
            time.sleep(0.05)
        pending = raw_request(s.port, "/v2/models/slow/infer",
                              json.dumps(infer_body(["last"], priority=1)).encode())
        for _ in range(600):
            if slow_pending(s):
                break
            time.sleep(0.05)
    finally:
        rc = s.stop()
    out = s.output()
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out[-6000:]
    assert "LeakSanitizer" not in out, out[-6000:]
    assert rc == 0, out[-6000:]
    status, _ = read_response(pending)
    assert status == 200


@pytest.mark.parametrize("http_threads", [1, 4])
def test_tsan_concurrency(repo, http_threads):
    """Many clients at once, vanishing clients and a drain under TSan: the
    IO threads (one, and a pool of four), the workers and the completion
    hand-off must not race."""
    need(BIN_TSAN)
    s = Server(BIN_TSAN, repo, "--http-thread-count", str(http_threads),
               env={"TSAN_OPTIONS": "halt_on_error=0 exitcode=66", "OMP_NUM_THREADS": "1"})
    errors = []

    def client(k):
        try:
            with requests.Session() as sess:
                for i in range(15):
                    model = "byt5" if i % 5 == 0 else "cached" if i % 6 == 2 else "echo"
                    if i % 4 == 1:  # a stream, read to the end
                        r = sess.post(f"{s.base}/v2/models/{model}/generate_stream",
                                      json={"text_input": f"t{k} {i} x", "max_new_tokens": 5}, timeout=120)
                    elif i % 7 == 3:  # a stream abandoned after its first bytes
                        sock = raw_request(s.port, f"/v2/models/{model}/generate_stream",
                                           json.dumps({"text_input": f"gone {k} {i}"}).encode())
                        sock.recv(1)
                        sock.close()
                        continue
                    else:
                        r = sess.post(f"{s.base}/v2/models/{model}/infer", json=infer_body([f"t{k}-{i}"]),
                                      timeout=120)
                    if r.status_code != 200:
                        errors.append(r.text)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    try:
        th = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in th:
            t.start()
        for i in range(4):
            raw_request(s.port, "/v2/models/slow/infer", json.dumps(infer_body([f"v{i}"])).encode()).close()
        for t in th:
            t.join(300)
        pending = raw_request(s.port, "/v2/models/slow/infer", json.dumps(infer_body(["last"])).encode())
    finally:
        rc = s.stop()
    out = s.output()
    assert "ThreadSanitizer" not in out, out[-8000:]
    assert rc == 0 and not errors, (errors, out[-4000:])
    assert read_response(pending)[0] in (200, 503)


def test_asan_mutated_requests(repo):
    """Deterministically mutated infer bodies (JSON and binary), headers and
    paths under ASan: every one gets an HTTP answer, and the server exits
    clean."""
    import random

    need(BIN_ASAN)
    s = Server(BIN_ASAN, repo, env={"ASAN_OPTIONS": "detect_leaks=1:exitcode=23",
                                     "UBSAN_OPTIONS": "halt_on_error=1:exitcode=24"})
    rng = random.Random(5)
    seeds = [json.dumps(infer_body(["hello", "wörld"], max_new_tokens=3)).encode(),
             json.dumps({"text_input": "abc", "parameters": {"num_beams": 2}}).encode()]
    bb, bhl = binary_body([b"one", b"two"])
    try:
        for i in range(300):
            kind = i % 3
            body = bytearray(bb if kind == 2 else seeds[kind])
            for _ in range(rng.randint(1, 8)):
                op = rng.random()
                pos = rng.randrange(len(body) + 1)
                if op < 0.4 and body:
                    body[min(pos, len(body) - 1)] = rng.randrange(256)
                elif op < 0.7:
                    body[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
                else:
                    del body[pos:pos + rng.randint(1, 6)]
            model = rng.choice(["echo", "byt5", "echo"])
            path = f"/v2/models/{model}/" + ("generate" if kind == 1 else "infer")
            headers = {}
            if kind == 2:
                headers["Inference-Header-Content-Length"] = str(max(0, bhl + rng.randint(-3, 3)))
            r = post(s, path, raw=bytes(body), headers=headers, timeout=300)
            assert 200 <= r.status_code < 600
            if r.status_code != 200:
                assert "error" in r.json()
    finally:
        rc = s.stop()
    out = s.output()
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out[-6000:]
    assert rc == 0, out[-6000:]
