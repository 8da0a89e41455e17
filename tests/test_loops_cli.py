"""``lfmgym loops`` on episodes (``--messages-field``) and the kind of each text verdict."""

import json
from pathlib import Path

from lfmgym.cli import main

DATA = Path(__file__).parent / "data" / "doom_loops"


def test_episode_mode_writes_id_loop_and_kind_per_line(tmp_path, capsys):
    rows = [json.loads(l) for l in (DATA / "episodes.jsonl").read_text(encoding="utf-8").splitlines()][::9]
    src = tmp_path / "episodes.jsonl"
    src.write_text("".join(json.dumps({"id": r["id"], "messages": r["messages"], "finished": r["finished"]}) + "\n"
                           for r in rows))
    out = tmp_path / "verdicts.jsonl"
    assert main(["loops", str(src), "--messages-field", "messages", "--finished-field", "finished",
                 "--out", str(out)]) == 0
    verdicts = [json.loads(l) for l in out.read_text().splitlines()]
    assert [v["id"] for v in verdicts] == [r["id"] for r in rows]
    assert [v["loop"] for v in verdicts] == [r["label"] for r in rows]
    assert {v["kind"] for v in verdicts if v["loop"]} <= {"repeated_call", "repeated_message", "turn_loop"}
    assert all(v["kind"] == "none" for v in verdicts if not v["loop"])
    ratio = sum(r["label"] for r in rows) / len(rows)
    assert f"doom-loop ratio: {ratio:.4f}" in capsys.readouterr().out


def test_episode_mode_names_the_bad_line(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"messages": []}\n{"messages": "hello"}\n')
    assert main(["loops", str(src), "--messages-field", "messages"]) == 2
    assert "bad.jsonl:2: field 'messages' must be a list of messages" in capsys.readouterr().err
    src.write_text('{"messages": [{"role": "assistant", "content": 3}]}\n')
    assert main(["loops", str(src), "--messages-field", "messages"]) == 2
    assert "bad.jsonl:1: field 'messages': message 0 content must be a string" in capsys.readouterr().err
    assert main(["loops", str(src), "--messages-field", "messages", "--field", "text"]) == 2


def test_text_mode_reports_the_kind(tmp_path, capsys):
    src = tmp_path / "g.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "cut", "text": "Let me see. " + "I will check the total once more. " * 12 + "I will che", "finished": False},
        {"id": "counter", "text": " ".join(f"Step {k}: check again." for k in range(17, 60)), "finished": False},
        {"id": "table", "text": "\n".join(f"7 x {k} = {7 * k}" for k in range(1, 90)), "finished": False},
    ]))
    assert main(["loops", str(src)]) == 0
    captured = capsys.readouterr()
    kinds = {v["id"]: v["kind"] for v in map(json.loads, captured.out.splitlines())}
    assert kinds == {"cut": "cut", "counter": "counter", "table": "none"}
    assert "(counter 1, cut 1)" in captured.err
