"""The built-in DLI/Livy simulator: simulated batches, faults, auth, scripted stories, HTTP server."""

from __future__ import annotations

from watcher.simulator.auth import SimAuth
from watcher.simulator.faults import Fault
from watcher.simulator.scenario import ScenarioPlayer, Step, demo_scenario, due_steps, load_scenario
from watcher.simulator.server import SimServer
from watcher.simulator.world import DEFAULT_PROJECT_ID, World

__all__ = [
    "DEFAULT_PROJECT_ID",
    "Fault",
    "ScenarioPlayer",
    "SimAuth",
    "SimServer",
    "Step",
    "World",
    "demo_scenario",
    "due_steps",
    "load_scenario",
]
