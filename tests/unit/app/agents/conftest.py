"""The `fold-probes` agent's fixtures (defined with its tests), for the other agent tests too."""

from tests.unit.app.agents.test_probes import agent, dead, flushed

__all__ = ["agent", "dead", "flushed"]
