"""lfmgym.model.info / .profile / .cli: parameter breakdowns of stored public configs, operator profiling."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from lfmgym.model.cli import add_commands
from lfmgym.model.info import BLOCK_TYPES, format_breakdown_table, param_breakdown
from lfmgym.model.profile import OPERATORS, _deltanet_family, format_profile_table, run_profile, write_profile

CONFIGS = Path(__file__).resolve().parent / "data" / "configs"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="lfmgym")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


# ---------------------------------------------------------------------------------------------- info


def test_gemma3_270m_is_mostly_embedding():
    b = param_breakdown(CONFIGS / "gemma-3-270m.json")
    assert b["total"] == 268_098_176  # the released 268M
    assert b["by_block"]["embedding"] == 262_144 * 640 and b["tied_embeddings"]
    assert 0.62 < b["embedding_share"] < 0.64  # the talk's "63%"
    assert b["by_block"]["conv"] == 0 and b["layer_types"] == {"sliding_attention": 15, "full_attention": 3}


def test_lfm2_350m_has_a_small_embedding_share():
    b = param_breakdown(CONFIGS / "lfm2-350m.json")
    assert b["total"] == 354_483_968 and b["architecture"] == "Lfm2ForCausalLM"
    assert b["by_block"]["embedding"] == 65_536 * 1024
    assert 0.18 < b["embedding_share"] < 0.20
    assert b["effective"] == b["total"] - b["embedding"]
    # 10 short convs (in_proj 3d*d + out_proj d*d + depthwise kernel 3d) and 6 GQA blocks (16 q / 8 kv heads of 64).
    d = 1024
    assert b["by_block"]["conv"] == 10 * (3 * d * d + d * d + 3 * d)
    assert b["by_block"]["attention"] == 6 * (2 * d * d + 2 * d * 512)
    # The stored config and the preset describe the same network.
    assert param_breakdown("lfm2-350m")["by_block"] == b["by_block"]


def test_breakdown_accounts_for_every_parameter():
    for model in ("tiny", CONFIGS / "gemma-3-270m.json"):
        b = param_breakdown(model)
        assert set(b["by_block"]) == set(BLOCK_TYPES)
        assert sum(b["by_block"].values()) == b["total"]
        assert b["by_block"]["other"] == 0


def test_breakdown_of_a_saved_checkpoint_dir_and_a_gated_deltanet(tmp_path):
    from lfmgym.model.presets import preset_config

    preset_config("tiny").save_pretrained(tmp_path)
    assert param_breakdown(tmp_path)["total"] == param_breakdown("tiny")["total"]
    family = _deltanet_family()
    if family is not None:  # the linear-attention category, on a Qwen3.5-style hybrid
        config_cls, _ = family
        cfg = config_cls(hidden_size=128, num_hidden_layers=2, layer_types=["linear_attention", "full_attention"],
                         num_attention_heads=2, num_key_value_heads=1, head_dim=64, intermediate_size=256,
                         vocab_size=512, linear_num_key_heads=2, linear_num_value_heads=2)
        b = param_breakdown(cfg)
        assert b["by_block"]["linear_attention"] > 0 and b["by_block"]["attention"] > 0
        assert sum(b["by_block"].values()) == b["total"]


def test_breakdown_errors_name_the_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a preset"):
        param_breakdown(str(tmp_path / "missing"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="not a config.json"):
        param_breakdown(tmp_path / "notes.txt")


def test_model_info_cli_prints_table_and_json(capsys):
    assert run_cli("model", "info", "tiny", str(CONFIGS / "gemma-3-270m.json")) == 0
    out = capsys.readouterr().out
    assert "gemma-3-270m.json" in out and "62.6%" in out and "embedding share" in out
    assert run_cli("model", "info", "--json", str(CONFIGS / "lfm2-350m.json")) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["total"] == 354_483_968
    assert run_cli("model", "info", "no-such-model") == 1
    assert "no-such-model" in capsys.readouterr().err


def test_format_breakdown_table_has_one_column_per_model():
    table = format_breakdown_table([param_breakdown("tiny"), param_breakdown("small")])
    assert table.splitlines()[0] == "| | tiny | small |"


# ---------------------------------------------------------------------------------------------- profile


def test_profile_measures_every_operator_and_writes_outputs(tmp_path):
    result = run_profile(hidden=64, seq_lens=[16, 48], repeats=1)
    rows = result["rows"]
    assert {r["operator"] for r in rows} == set(OPERATORS)
    assert len(rows) == len(OPERATORS) * 2 * 2
    by = {(r["operator"], r["phase"], r["seq_len"]): r for r in rows}
    for op in OPERATORS:
        available = op != "gated_deltanet" or _deltanet_family() is not None
        for phase in ("prefill", "decode"):
            for n in (16, 48):
                row = by[(op, phase, n)]
                assert row["available"] is available, row
                if available:
                    assert row["latency_ms"] > 0 and row["peak_mem_mib"] >= 0 and row["state_mib"] > 0
                    assert row["latency_min_ms"] <= row["latency_ms"] and row["mixer_params"] > 0
    # The KV cache grows with the context; the short conv keeps a fixed 2-token state.
    assert by[("gqa", "prefill", 48)]["state_mib"] == pytest.approx(3 * by[("gqa", "prefill", 16)]["state_mib"])
    assert by[("short_conv", "prefill", 48)]["state_mib"] == by[("short_conv", "prefill", 16)]["state_mib"]

    paths = write_profile(result, tmp_path)
    assert json.loads(paths["json"].read_text())["meta"]["hidden"] == 64
    table = paths["markdown"].read_text()
    assert "| short_conv | 16 |" in table and "×conv" in table
    assert paths["plot"].stat().st_size > 10_000  # a real PNG, not an empty figure
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_cli_runs_a_subset(tmp_path, capsys):
    code = run_cli("model", "profile", "--out", str(tmp_path), "--seq-lens", "8", "24", "--hidden", "64",
                   "--operators", "short_conv", "swa", "--repeats", "1", "--window", "16", "--no-memory")
    assert code == 0
    result = json.loads((tmp_path / "profile.json").read_text())
    assert {r["operator"] for r in result["rows"]} == {"short_conv", "swa"}
    assert all(r["peak_mem_mib"] is None for r in result["rows"])
    # A sliding window of 16 caps the SWA cache: 24 tokens of context keep only the window.
    swa = {r["seq_len"]: r["state_mib"] for r in result["rows"] if r["operator"] == "swa" and r["phase"] == "prefill"}
    assert swa[24] < 24 / 8 * swa[8]
    assert "short_conv" in format_profile_table(result)


def test_profile_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown operator"):
        run_profile(operators=["mamba"], seq_lens=[8])
    with pytest.raises(ValueError, match="multiple of 64"):
        run_profile(hidden=100, seq_lens=[8], operators=["gqa"])
    assert run_cli("model", "profile", "--operators", "nope", "--seq-lens", "8") == 2
