"""The generation-time doom-loop stop: per-row decisions on a batch, and inside model.generate."""

import pytest
import torch

from lfmgym.rewards.doom_loop import detect_doom_loop
from lfmgym.rewards.loop_stopping import LoopStop, LoopStoppingCriteria

PROMPT = [5, 6, 7, 8, 9, 10]


def play(criterion, rows, steps):
    """Feed ``rows`` (generated tokens per row) one step at a time, as generate does."""
    decisions = []
    for n in range(1, steps + 1):
        ids = torch.tensor([PROMPT + r[:n] for r in rows])
        decisions.append(criterion(ids, None).tolist())
    return decisions


def test_a_looping_row_stops_and_the_others_go_on():
    loop = list(range(100, 120)) + [200, 201, 202, 203] * 60
    prose = list(range(300, 540))
    ended = list(range(600, 620)) + [2] + [0] * 219  # EOS then padding: finished, never judged
    crit = LoopStoppingCriteria(len(PROMPT), 240, eos_token_id=2, check_every=4)
    decisions = play(crit, [loop, prose, ended], 240)
    assert list(crit.stopped) == [0] and crit.kinds[0] == "periodic"
    n = crit.stopped[0]
    assert n <= 20 + 64 + 4  # at most check_every tokens after the loop is confirmed
    assert detect_doom_loop(loop[:n], None, metrics=False).loop
    assert decisions[n - 1] == [True, False, False] and decisions[-1] == [True, False, False]
    assert crit.tokens_saved == 240 - n
    assert crit.checks == 240 // 4


def test_only_the_tail_is_judged_and_a_late_loop_still_stops():
    prose = list(range(1000, 1400))
    crit = LoopStoppingCriteria(len(PROMPT), 600, check_every=8, max_period=16, min_coverage=32)
    assert crit.window == 3 * 16 + 32 + 16
    play(crit, [prose + [7, 8, 9, 10, 11] * 40], 600)
    assert crit.kinds == {0: "periodic"} and 400 + 32 <= crit.stopped[0] <= 400 + 32 + 8


def test_counters_stop_with_a_tokenizer_digit_map():
    class Tok:
        def get_vocab(self):
            return {**{str(d): 30 + d for d in range(10)}, "Step": 50, "Ġcheck": 51, "Ġagain": 52, ".": 53, ":": 54}

    rows = [[]]
    for k in range(7, 60):
        rows[0] += [50] + [30 + int(c) for c in str(k)] + [54, 51, 52, 53]
    crit = LoopStop(enabled=True, check_every=8).criterion(len(PROMPT), 200, tokenizer=Tok())
    play(crit, rows, 200)
    assert crit.kinds == {0: "counter"}
    plain = LoopStop(enabled=True, check_every=8).criterion(len(PROMPT), 200)
    play(plain, rows, 200)
    assert plain.stopped == {}


def test_settings_from_a_config_section():
    stop = LoopStop.from_mapping({"enabled": True, "check_every": 16, "min_coverage": 48})
    assert stop.enabled and stop.criterion(3).rules["min_coverage"] == 48
    assert not LoopStop.from_mapping(None).enabled
    with pytest.raises(ValueError, match="unknown setting.*check_evry"):
        LoopStop.from_mapping({"check_evry": 3})
    with pytest.raises(ValueError, match="check_every"):
        LoopStoppingCriteria(3, check_every=0)
    with pytest.raises(ValueError, match="min_repeats"):
        LoopStoppingCriteria(3, min_repeats=1)


def test_inside_generate_on_an_untrained_lfm2():
    from transformers import Lfm2ForCausalLM, StoppingCriteriaList

    from lfmgym.model.presets import preset_config

    cfg = preset_config("tiny", vocab_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, hidden_size=32,
                        intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)
    torch.manual_seed(0)
    model = Lfm2ForCausalLM(cfg).eval()
    prompt = torch.randint(3, 64, (2, 6), generator=torch.Generator().manual_seed(0))
    crit = LoopStop(enabled=True, min_coverage=16, check_every=4).criterion(prompt.shape[1], 96, eos_token_id=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small only loses from threads on a shared CI machine
    try:
        with torch.no_grad():
            out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=96, do_sample=False,
                                 pad_token_id=0, eos_token_id=2, stopping_criteria=StoppingCriteriaList([crit]))
    finally:
        torch.set_num_threads(threads)
    assert sorted(crit.stopped) == [0, 1]  # greedy decoding of random weights loops at once
    assert out.shape[1] - prompt.shape[1] == max(crit.stopped.values()) < 96
    for row, n in crit.stopped.items():
        assert detect_doom_loop(out[row, prompt.shape[1]: prompt.shape[1] + n].tolist(), False, min_coverage=16,
                                metrics=False).loop
    assert crit.tokens_saved == sum(96 - n for n in crit.stopped.values())
