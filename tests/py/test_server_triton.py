"""The server through the real tritonclient[http]: health, metadata, config,
JSON and binary tensors, async infer, parameters, statistics, repository
index. A client written for Triton must work unchanged."""
import numpy as np
import pytest

tritonclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

httpclient = tritonclient


@pytest.fixture(scope="module")
def client(server):
    c = httpclient.InferenceServerClient(url=server.url, concurrency=4)
    yield c
    c.close()


def text_input(texts, binary=True):
    arr = np.array([[t.encode()] for t in texts], dtype=np.object_)
    i = httpclient.InferInput("text_input", list(arr.shape), "BYTES")
    i.set_data_from_numpy(arr, binary_data=binary)
    return i


def texts_of(result, name="text_output"):
    return [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy(name).reshape(-1)]


def test_health_and_server_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    md = client.get_server_metadata()
    assert md["name"] == "t5serve"
    for ext in ("binary_tensor_data", "statistics", "model_repository", "generate"):
        assert ext in md["extensions"]


def test_model_metadata_and_config(client):
    assert client.is_model_ready("echo")
    assert client.is_model_ready("byt5")
    assert not client.is_model_ready("broken")
    assert not client.is_model_ready("nonexistent")
    md = client.get_model_metadata("byt5")
    assert md["name"] == "byt5" and md["versions"] == ["1"]
    assert md["inputs"][0]["name"] == "text_input" and md["inputs"][0]["datatype"] == "BYTES"
    assert md["inputs"][0]["shape"] == [-1, 1]
    assert {o["name"] for o in md["outputs"]} == {"text_output", "output_ids", "sequence_score"}
    cfg = client.get_model_config("byt5")
    assert cfg["max_batch_size"] == 8
    assert cfg["dynamic_batching"]["max_queue_delay_microseconds"] == 2000
    assert cfg["parameters"]["max_new_tokens"]["string_value"] == "8"
    assert cfg["instance_group"][0]["kind"] == "KIND_CPU"
    plain = client.get_model_config("plain")  # no config.pbtxt: defaults
    assert plain["max_batch_size"] == 8 and plain["input"][0]["name"] == "text_input"
    # T5 models default to the in-flight scheduler, and the config says so
    assert plain["parameters"]["scheduler"]["string_value"] == "inflight"
    assert client.get_model_config("byt5")["parameters"]["scheduler"]["string_value"] == "dynamic"
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("nonexistent")
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("echo", model_version="7")


@pytest.mark.parametrize("binary", [True, False])
def test_echo_infer(client, binary):
    texts = ["helo wrld", "ünïcödé ✓", ""]
    outs = [httpclient.InferRequestedOutput("text_output", binary_data=binary)]
    r = client.infer("echo", [text_input(texts, binary)], outputs=outs, request_id="abc")
    assert texts_of(r) == texts
    assert r.get_response()["id"] == "abc"
    assert r.as_numpy("text_output").shape == (3, 1)


def test_default_outputs_are_binary(client):
    r = client.infer("echo", [text_input(["abc"])])
    assert texts_of(r) == ["abc"]
    assert r.as_numpy("sequence_score") is None  # only on request


def test_all_outputs(client):
    outs = [httpclient.InferRequestedOutput(n, binary_data=b)
            for n, b in (("text_output", False), ("output_ids", True), ("sequence_score", False))]
    r = client.infer("echo", [text_input(["ab", "c"])], outputs=outs)
    ids = r.as_numpy("output_ids")
    assert ids.dtype == np.int32 and ids.shape == (2, 1, 2)
    assert ids[0, 0].tolist() == [ord("a"), ord("b")] and ids[1, 0].tolist() == [ord("c"), 0]
    assert r.as_numpy("sequence_score").shape == (2, 1)


def test_async_infer(client):
    reqs = [client.async_infer("echo", [text_input([f"query {i}"])]) for i in range(12)]
    got = [texts_of(r.get_result())[0] for r in reqs]
    assert got == [f"query {i}" for i in range(12)]


def test_t5_infer_parameters_and_scores(client):
    outs = [httpclient.InferRequestedOutput(n) for n in ("text_output", "output_ids", "sequence_score")]
    r = client.infer("byt5", [text_input(["hello world", "spelling"])], outputs=outs,
                     parameters={"max_new_tokens": 5, "num_beams": 2, "num_return_sequences": 2})
    assert r.as_numpy("text_output").shape == (2, 2)
    ids = r.as_numpy("output_ids")
    assert ids.shape[:2] == (2, 2) and ids.shape[2] <= 5
    scores = r.as_numpy("sequence_score")
    assert scores.dtype == np.float32 and scores.shape == (2, 2)
    assert np.all(scores[:, 0] >= scores[:, 1])  # best first


def test_t5_batched_equals_alone(client):
    """A request's output does not depend on what it was batched with."""
    outs = [httpclient.InferRequestedOutput("output_ids", binary_data=False)]
    texts = ["hello world", "a", "spelling correction", "xyz"]
    alone = [client.infer("byt5", [text_input([t])], outputs=outs).as_numpy("output_ids")[0, 0]
             for t in texts]
    reqs = [client.async_infer("byt5", [text_input([t])], outputs=outs,
                               parameters={"max_new_tokens": 8 if i % 2 else 6})
            for i, t in enumerate(texts)]
    together = client.infer("byt5", [text_input(texts)], outputs=outs).as_numpy("output_ids")
    for i, t in enumerate(texts):
        a = [x for x in alone[i].tolist() if x]
        assert [x for x in together[i, 0].tolist() if x] == a
        b = [x for x in reqs[i].get_result().as_numpy("output_ids")[0, 0].tolist() if x]
        assert b == a[: len(b)]  # different max_new_tokens: a prefix of the same greedy path


def test_errors_raise(client):
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.infer("nonexistent", [text_input(["x"])])
    with pytest.raises(InferenceServerException, match="batch-size"):
        client.infer("echo", [text_input(["x"] * 9)])
    with pytest.raises(InferenceServerException, match="max_new_tokens"):
        client.infer("byt5", [text_input(["x"])], parameters={"max_new_tokens": 10000})
    bad = httpclient.InferInput("text_input", [1, 1], "INT32")
    bad.set_data_from_numpy(np.array([[1]], dtype=np.int32))
    with pytest.raises(InferenceServerException, match="BYTES"):
        client.infer("echo", [bad])


def test_statistics(client):
    client.infer("echo", [text_input(["s1", "s2"])])
    st = client.get_inference_statistics("echo")
    (m,) = st["model_stats"]
    assert m["name"] == "echo" and m["version"] == "1"
    assert m["inference_count"] >= 2 and m["execution_count"] >= 1
    for k in ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output"):
        assert set(m["inference_stats"][k]) == {"count", "ns"}
    assert m["inference_stats"]["success"]["count"] >= 1
    assert any(b["batch_size"] >= 1 for b in m["batch_stats"])
    allst = client.get_inference_statistics()
    assert {"echo", "byt5"} <= {x["name"] for x in allst["model_stats"]}


def test_repository_index(client):
    idx = {m["name"]: m for m in client.get_model_repository_index()}
    assert idx["echo"]["state"] == "READY" and idx["echo"]["version"] == "1"
    assert idx["broken"]["state"] == "UNAVAILABLE"
    assert "config.pbtxt line" in idx["broken"]["reason"]
    with pytest.raises(InferenceServerException, match="not allowed"):
        client.load_model("echo")  # model control mode none


def test_t5_mixed_parameters_in_one_batch(client):
    """Greedy, beam and sampled requests queued together (so the batcher may
    combine them) each get what they get alone."""
    outs = [httpclient.InferRequestedOutput("output_ids", binary_data=False),
            httpclient.InferRequestedOutput("sequence_score", binary_data=False)]
    cases = [({"max_new_tokens": 6}, "hello"), ({"num_beams": 3, "max_new_tokens": 5}, "hello"),
             ({"num_beams": 2, "num_return_sequences": 2, "max_new_tokens": 4}, "world"),
             ({"do_sample": True, "seed": 7, "top_k": 10, "max_new_tokens": 6}, "hello"),
             ({"min_new_tokens": 4, "max_new_tokens": 4}, "abc")]

    def ids(r):
        return [[x for x in row if x] for row in r.as_numpy("output_ids")[0].tolist()]

    alone = [ids(client.infer("byt5", [text_input([t])], outputs=outs, parameters=p)) for p, t in cases]
    for _ in range(2):
        reqs = [client.async_infer("byt5", [text_input([t])], outputs=outs, parameters=p) for p, t in cases]
        assert [ids(r.get_result()) for r in reqs] == alone
    assert len(alone[2]) == 2 and len(alone[4][0]) == 4


def test_inflight_scheduler_matches_dynamic(client):
    """byt5i (scheduler inflight) answers exactly as byt5 (dynamic batching),
    requests alone or queued together with mixed parameters."""
    assert client.get_model_config("byt5i")["parameters"]["scheduler"]["string_value"] == "inflight"
    outs = [httpclient.InferRequestedOutput("output_ids", binary_data=False),
            httpclient.InferRequestedOutput("sequence_score", binary_data=False)]
    cases = [({"max_new_tokens": 6}, ["hello", "a"]), ({"num_beams": 3, "max_new_tokens": 5}, ["hello"]),
             ({"num_beams": 2, "num_return_sequences": 2, "max_new_tokens": 4}, ["world"]),
             ({"do_sample": True, "seed": 7, "top_k": 10, "max_new_tokens": 6}, ["hello"])]

    def res(r):
        return r.as_numpy("output_ids").tolist(), np.round(r.as_numpy("sequence_score"), 4).tolist()

    want = [res(client.infer("byt5", [text_input(t)], outputs=outs, parameters=p)) for p, t in cases]
    reqs = [client.async_infer("byt5i", [text_input(t)], outputs=outs, parameters=p) for p, t in cases]
    assert [res(r.get_result()) for r in reqs] == want
