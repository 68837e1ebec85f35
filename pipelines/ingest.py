"""DVC stage `ingest`: write the raw batch to data/raw/applications.parquet."""

try:
    import loanrisk  # noqa: F401 - first, so a Python without the project says so in one line
except ModuleNotFoundError:
    raise SystemExit(
        "error: the loanrisk package is not installed for this Python; run `make setup` "
        "and `source .venv/bin/activate`"
    ) from None

from loanrisk import stage
from loanrisk.config import load_project
from loanrisk.data.ingest import ingest

RAW = "data/raw/applications.parquet"


def main() -> None:
    project = load_project()
    frame = ingest(project)
    stage.write_parquet(RAW, frame)
    print(f"ingest: {len(frame)} rows from {project.params.data.source} -> {RAW}")


if __name__ == "__main__":
    stage.run(main)
