"""Run untrusted, model-written Python in an isolated, persistent, resource-limited worker.

See :mod:`lfmgym.sandbox.sandbox` for the contract and :mod:`lfmgym.sandbox.isolation` for how
the worker is isolated (bubblewrap, an unprivileged uid, rlimits, a scrubbed environment).
"""

from lfmgym.sandbox.isolation import SandboxUnavailable
from lfmgym.sandbox.sandbox import CellResult, Sandbox, SandboxError

__all__ = ["Sandbox", "CellResult", "SandboxError", "SandboxUnavailable"]
