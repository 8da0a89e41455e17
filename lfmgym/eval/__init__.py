"""Evaluation: environments (:mod:`lfmgym.eval.envs`), BFCL (:mod:`lfmgym.eval.bfcl`), metrics
(:mod:`lfmgym.eval.metrics`) and reports comparing runs (:mod:`lfmgym.eval.report`).

Command line: ``lfmgym eval``, ``lfmgym eval bfcl``, ``lfmgym report`` (:mod:`lfmgym.eval.cli`).
Submodules are imported on use, so ``import lfmgym.eval`` stays cheap.
"""
