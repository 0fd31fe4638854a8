"""One ``tierbench run``: the options meta.json records (so ``--resume`` re-plans the same request),
resolved once against the suite and catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.catalog import load_catalog
from harness.config.models import Catalog
from harness.config.suite import Constraints, SuiteSpec
from harness.results.schema import RunOptions
from harness.suites import load_suite


@dataclass(frozen=True)
class RunRequest:
    """Everything the planner needs, each choice explicit."""

    options: RunOptions
    suite: SuiteSpec  # with the command line's constraints merged in
    catalog: Catalog
    models: list[str] | None  # None: every runnable tier of the catalog
    profiles: list[str]
    tasks: list[str]
    limit: int | None
    data_dir: Path | None
    # --quiet-host: wait up to this long before each cell for a calm host; not recorded, not a plan flag
    quiet_host_s: float | None = None

    @classmethod
    def resolve(cls, options: RunOptions) -> RunRequest:
        """Apply the suite's defaults to what was asked (UserError for an unknown suite, catalog, ...)."""
        suite = load_suite(options.suite_source)
        if flags := options.constraints.given():
            merged = Constraints.model_validate({**suite.constraints.model_dump(), **flags})
            suite = suite.model_copy(update={"constraints": merged})
        return cls(
            options=options,
            suite=suite,
            catalog=load_catalog(Path(options.catalog) if options.catalog else None),
            models=options.models or suite.models,
            profiles=options.profiles or suite.profiles,
            tasks=list(suite.tasks) if options.tasks is None else options.tasks,
            limit=options.limit or suite.limit,
            data_dir=Path(options.data_dir) if options.data_dir else None,
        )
