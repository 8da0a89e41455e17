"""Long-context environment (RLM-style: the input lives in a sandboxed REPL as ``context``).

The env class is :class:`lfmgym.envs.long_context.env.LongContextEnv`; this package stays
import-light so plugin discovery does not pay for it.
"""
