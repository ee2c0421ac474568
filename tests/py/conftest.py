"""Shared fixtures for the server integration tests (tests/py/test_server*.py).

`Server` starts `t5serve serve` on free loopback ports with a model
repository assembled in a temporary directory, waits (bounded) until it is
live, and stops it with SIGTERM. The repository holds:

  echo     the identity backend (text_output = text_input), dynamic batching
  slow     identity with a 1.5 s execution, one row per batch, a queue of 2,
           two priority levels and per-request timeouts (queue tests)
  byt5     the byt5_like fixture checkpoint (ByT5 byte tokenizer), a real T5,
           under the request-level dynamic batcher (named in its config)
  plain    the same checkpoint without config.pbtxt (the defaults: in-flight)
  byt5i    the same as byt5 under the in-flight (iteration-level) scheduler
  cached   the same as byt5 with response_cache { enable: true } (the server
           runs with a 1 MiB response cache)
  broken   a config.pbtxt with a syntax error (must not stop the others)
"""
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("T5SERVE", str(ROOT / "build" / "t5serve"))
BIN_ASAN = os.environ.get("T5SERVE_ASAN", str(ROOT / "build-asan" / "t5serve"))
# A ThreadSanitizer build (cmake -DT5_TSAN=ON); its test is skipped without one.
BIN_TSAN = os.environ.get("T5SERVE_TSAN", str(ROOT / "build-tsan" / "t5serve"))
FIXTURE_MODEL = ROOT / "tests" / "fixtures" / "models" / "byt5_like"

ECHO_CFG = """
name: "echo"
backend: "identity"
max_batch_size: 8
input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]
output [
  { name: "text_output" data_type: TYPE_STRING dims: [ -1 ] },
  { name: "output_ids" data_type: TYPE_INT32 dims: [ -1, -1 ] },
  { name: "sequence_score" data_type: TYPE_FP32 dims: [ -1 ] }
]
dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 1000 }
instance_group [ { count: 2 kind: KIND_CPU } ]
"""

SLOW_CFG = """
name: "slow"
backend: "identity"
max_batch_size: 1
dynamic_batching {
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy { max_queue_size: 2 allow_timeout_override: true }
}
parameters { key: "delay_us" value: { string_value: "1500000" } }
"""

BYT5_CFG = """
name: "byt5"
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 2000 }
parameters { key: "scheduler" value: { string_value: "dynamic" } }
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "max_new_tokens" value: { string_value: "8" } }
parameters { key: "max_output_tokens" value: { string_value: "32" } }
parameters { key: "max_input_tokens" value: { string_value: "64" } }
parameters { key: "n_threads" value: { string_value: "1" } }
"""

BROKEN_CFG = 'name: "broken"\nmax_batch_size: [ oops\n'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_repo(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    for name, cfg in (("echo", ECHO_CFG), ("slow", SLOW_CFG), ("broken", BROKEN_CFG)):
        (root / name / "1").mkdir(parents=True, exist_ok=True)
        (root / name / "config.pbtxt").write_text(cfg)
    byt5i = BYT5_CFG.replace('name: "byt5"', 'name: "byt5i"').replace('"dynamic"', '"inflight"')
    cached = BYT5_CFG.replace('name: "byt5"', 'name: "cached"') + "response_cache { enable: true }\n"
    for name, cfg in (("byt5", BYT5_CFG), ("plain", None), ("byt5i", byt5i), ("cached", cached)):
        d = root / name / "1"
        d.mkdir(parents=True, exist_ok=True)
        for f in FIXTURE_MODEL.iterdir():
            shutil.copy(f, d / f.name)
        if cfg:
            (root / name / "config.pbtxt").write_text(cfg)
    return root


class Server:
    def __init__(self, binary, repo, *extra, env=None):
        self.port = free_port()
        self.metrics_port = free_port()
        self.url = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.url}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.log = repo.parent / f"server-{self.port}.log"
        args = [binary, "serve", "--model-repository", str(repo), "--http-port", str(self.port),
                "--metrics-port", str(self.metrics_port), "--log-verbose", "1",
                "--strict-readiness", "false", "--cache-config", "local,size=1048576", *extra]
        e = dict(os.environ)
        e.update(env or {})
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT, env=e)
        self.wait_live()

    def wait_live(self):
        import requests
        for _ in range(600):  # bounded: ~60 s on a loaded machine
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if requests.get(self.base + "/v2/health/live", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not come up:\n{self.output()}")

    def output(self):
        if not self.logf.closed:
            self.logf.flush()
        return self.log.read_text(errors="replace")

    def stop(self):
        """SIGTERM, then wait (bounded); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


def infer_text_output(server, model, texts, params=None, timeout=120):
    """POSTs texts as one text_input batch to a model's /infer (with request
    parameters, if any); asserts a 200 and returns the text_output tensor."""
    import requests
    body = {"inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [len(texts), 1],
                        "data": texts}]}
    if params:
        body["parameters"] = params
    r = requests.post(f"{server.base}/v2/models/{model}/infer", json=body, timeout=timeout)
    assert r.status_code == 200, r.text
    return [o for o in r.json()["outputs"] if o["name"] == "text_output"][0]


def need(binary):
    if not Path(binary).exists():
        pytest.skip(f"no t5serve binary at {binary}")


@pytest.fixture(scope="session")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("repo") / "models")


@pytest.fixture(scope="module")
def server(repo):
    need(BIN)
    s = Server(BIN, repo)
    yield s
    rc = s.stop()
    assert rc == 0, s.output()
