"""The shipped speller through t5serve gives what Hugging Face gives.

Held-out misspellings (codespell's list, never trained on) and two queries,
with the greedy outputs of transformers' T5ForConditionalGeneration on
models/speller/1 (tools/speller/evaluate.py's Model, fp32 on CPU); regenerated for
checkpoint C5, which gives the same 12 outputs as C2 and C3 did.
"""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T5SERVE = os.environ.get("T5SERVE", os.path.join(ROOT, "build", "t5serve"))
MODEL = os.path.join(ROOT, "models", "speller", "1")

CASES = [
    ("buffor", "buffer"),
    ("precondtion", "precondition"),
    ("peopl", "people"),
    ("controlable", "controllable"),
    ("deklaration", "declaration"),
    ("mehtod", "method"),
    ("simualted", "simulated"),
    ("evrithing", "everything"),
    ("proprietory", "proprietary"),
    ("stainles steel water botle", "stainless steel water bottle"),
    ("wireles headphones", "wireless headphones"),
    ("running shoes for men", "running shoes for men"),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_speller_matches_hf(text, expected):
    out = subprocess.run([T5SERVE, "generate", "--model", MODEL, "--text", text,
                          "--max-new-tokens", "32", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, out.stdout
    assert json.loads(lines[0])["text"] == expected
