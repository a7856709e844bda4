# Type stubs for the pbfs._pbfs extension (python/module.cc): what editors and type checkers see.
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

version: str
trace_schema_version: int

class ScenarioError(ValueError):
    """A scenario is invalid; str(e) is the command line's 'file:line: field.path: what is wrong'."""

class RunError(RuntimeError):
    """A valid scenario could not be run to the end (e.g. its trace file could not be written)."""

class CheckerVerdict:
    checker: str
    passed: bool
    assumption_violated: bool
    violations: int
    detail: str
    verdict: str  # "passed", "FAILED" or "assumption violated"

class RunSummary:
    simulated_ns: int
    events: int
    wall_seconds: float
    messages_sent: int
    messages_delivered: int
    messages_dropped: int
    messages_rejected: int
    faults_injected: int
    counters: dict[str, int]
    metrics: dict[str, float]
    verdicts: list[CheckerVerdict]
    all_checks_passed: bool

class RunResult:
    summary: RunSummary
    verdicts: list[CheckerVerdict]
    passed: bool
    trace_path: str
    replay_command: str
    seed: int
    scenario_name: str
    scenario_text: str
    rows_retained: bool
    table_names: list[str]
    tables: dict[str, np.ndarray]
    def table(self, name: str) -> np.ndarray: ...
    def describe_table(self, name: str) -> dict[str, Any]: ...

class Scenario:
    name: str
    description: str
    seed: int
    duration_ns: int
    node_count: int
    protocol: str
    payload: str
    text: str
    file: str
    overrides: list[str]
    default_trace_path: str
    def with_overrides(self, overrides: Sequence[str]) -> Scenario: ...
    def run(self, seed: Optional[int] = None, trace_path: str = "", retain_rows: bool = True,
            progress: Optional[Callable[[int, int], None]] = None, progress_every_ns: int = 0) -> RunResult: ...

def load_scenario_file(path: str, overrides: Optional[Sequence[str]] = None) -> Scenario: ...
def load_scenario_text(text: str, origin: str = "<string>", overrides: Optional[Sequence[str]] = None) -> Scenario: ...
def load_scenario_dict(mapping: Mapping[str, Any], overrides: Optional[Sequence[str]] = None) -> Scenario: ...
def yaml_from_python(value: Any) -> str: ...
def python_from_yaml(text: str, origin: str = "<string>") -> tuple[Any, dict[str, int]]: ...
