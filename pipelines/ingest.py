"""DVC stage `ingest`: write the raw batch to data/raw/applications.parquet."""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

from loanrisk import stage
from loanrisk.data.ingest import ingest
from loanrisk.paths import RAW
from loanrisk.project import load_project


def main() -> None:
    project = load_project()
    frame = ingest(project.params, project.dataset)
    stage.write_parquet(RAW, frame)
    print(f"ingest: {len(frame)} rows from {project.params.data.source} -> {RAW}")


if __name__ == "__main__":
    stage.run(main)
