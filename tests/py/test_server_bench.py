"""`t5serve bench` against the test server: both modes run, the table and
the CSV have every column, and no request fails."""
import csv
import subprocess

from conftest import BIN


def bench(out, *args, timeout=300):
    """Runs `t5serve bench ... --csv out`; returns its rows (it must exit 0)."""
    p = subprocess.run([BIN, "bench", *args, "--csv", str(out)], capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, p.stderr
    assert "p99_us" in p.stdout
    return list(csv.DictReader(out.open()))


def test_bench_modes(server, tmp_path):
    q = tmp_path / "queries.txt"
    q.write_text("helo wrld\nspeling mistake\n\nünïcödé \"quoted\"\n")
    out = tmp_path / "out.csv"
    rows = bench(out, "--url", f"http://{server.url}", "--model", "echo", "--queries", str(q),
                 "--concurrency", "1,3", "--requests", "30", "--warmup", "2")
    assert [r["level"] for r in rows] == ["1", "3"]
    for r in rows:
        assert r["mode"] == "concurrency" and int(r["requests"]) == 30 and int(r["errors"]) == 0
        assert float(r["p50_us"]) <= float(r["p99_us"])
    (r,) = bench(out, "--url", server.url, "--model", "byt5", "--queries", str(q),
                 "--request-rate", "40", "--requests", "20", "--endpoint", "generate",
                 "--batch-size", "2", "--max-new-tokens", "3")
    assert r["mode"] == "request_rate" and int(r["requests"]) == 20 and int(r["errors"]) == 0


def test_bench_bad_args(server, tmp_path):
    p = subprocess.run([BIN, "bench", "--model", "echo", "--queries", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "queries" in p.stderr
    q = tmp_path / "q.txt"
    q.write_text("x\n")
    p = subprocess.run([BIN, "bench", "--url", server.url, "--model", "nope", "--queries", str(q)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "404" in p.stderr


def test_bench_event_loops(server, tmp_path):
    """--event-loops: the Poisson load from epoll loops over shared keep-alive
    connections; every request is answered and counted once, and the same
    CSV columns come out."""
    q = tmp_path / "queries.txt"
    q.write_text("helo wrld\nspeling mistake\nanother one\n")
    out = tmp_path / "out.csv"
    rows = bench(out, "--url", server.url, "--model", "echo", "--queries", str(q),
                 "--request-rate", "300,600", "--requests", "240", "--event-loops", "2",
                 "--max-threads", "16")
    assert [r["level"] for r in rows] == ["300", "600"]
    for r in rows:
        assert r["mode"] == "request_rate" and int(r["requests"]) == 240 and int(r["errors"]) == 0
        assert 0 < float(r["p50_us"]) <= float(r["p99_us"])
    # one connection per loop for a server that takes 1.5 s a request: the rest wait (late)
    (r,) = bench(out, "--url", server.url, "--model", "slow", "--queries", str(q),
                 "--request-rate", "50", "--requests", "2", "--event-loops", "1",
                 "--max-threads", "1", "--warmup", "0")
    assert int(r["requests"]) + int(r["errors"]) == 2 and int(r["late"]) >= 1
    p = subprocess.run([BIN, "bench", "--url", server.url, "--model", "echo", "--queries", str(q),
                        "--request-rate", "10", "--event-loops", "3", "--max-threads", "2"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--event-loops" in p.stderr
