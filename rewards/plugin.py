"""lfmgym's built-in rewards, registered through the same hook a third-party plugin uses.

Every factory returns a picklable callable ``reward(completion, **task_fields) -> float`` whose
docstring gives its formula.
"""

from __future__ import annotations

from functools import partial

from lfmgym import Spec, hookimpl
from lfmgym.rewards.doom_loop import DoomLoopPenalty
from lfmgym.rewards.format import AnswerExtracted, ToolCallParseOK, ToolCallSchemaValid
from lfmgym.rewards.math import MathReward
from lfmgym.rewards.ngram import NgramRepetitionPenalty
from lfmgym.rewards.qa import QAReward
from lfmgym.rewards.toolcall_ast import ToolCallReward

VERSION = "0.1.0"


@hookimpl
def lfmgym_reward_functions() -> list[Spec]:
    return [
        Spec("math", MathReward, "1 if the final answer equals the gold (math-verify, hack-guarded)", VERSION),
        Spec("qa_f1", partial(QAReward, metric="f1"), "SQuAD token F1 of the answer against aliases", VERSION),
        Spec("qa_em", partial(QAReward, metric="em"), "SQuAD exact match of the answer against aliases", VERSION),
        Spec("toolcall_ast", ToolCallReward, "1 if the tool calls AST-match the gold (BFCL semantics)", VERSION),
        Spec("ngram_repetition", NgramRepetitionPenalty, "(1 - unique/total n-grams) * max_penalty", VERSION),
        Spec("doom_loop", DoomLoopPenalty, "penalty if the completion stopped unfinished in a loop (exact, cut, "
             "sampled or counter)", VERSION),
        Spec("answer_extracted", AnswerExtracted, "1 if a final answer can be extracted (format metric)", VERSION),
        Spec("toolcall_parse_ok", ToolCallParseOK, "1 if the tool-call markup parses (format metric)", VERSION),
        Spec("toolcall_schema_valid", ToolCallSchemaValid, "1 if every call fits the offered schemas", VERSION),
    ]
