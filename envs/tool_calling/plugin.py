"""The tool-calling plugin: registers the ``tool_calling`` environment and its stateless tools
through lfmgym's hooks, exactly as a third-party plugin would. The stateful store tools are
bound to a fresh store per episode, so they are not offered as standalone tools."""

from __future__ import annotations

from lfmgym import Spec, hookimpl

VERSION = "0.1"


@hookimpl
def lfmgym_environments():
    from lfmgym.envs.tool_calling.env import ToolCallingEnv

    return [Spec("tool_calling", ToolCallingEnv, ToolCallingEnv.description, VERSION)]


def _tool_factory(name: str):
    def factory():
        from lfmgym.envs.tool_calling.tasks import stateless_tool

        return stateless_tool(name)

    return factory


# Names and one-line descriptions here keep plugin loading free of the catalog import.
_TOOLS = {
    "convert_units": "Convert lengths, masses and temperatures between units",
    "days_between": "Days between two ISO dates",
    "add_days": "Shift an ISO date by a number of days",
    "day_of_week": "Weekday of an ISO date",
    "get_capital": "Capital city of a country (bundled table)",
    "get_currency": "Currency code of a country (bundled table)",
    "get_population": "Population of a country in millions (bundled table)",
    "convert_currency": "Convert money at fixed bundled rates",
}


@hookimpl
def lfmgym_tools():
    return [Spec(name, _tool_factory(name), desc, VERSION) for name, desc in _TOOLS.items()]
