"""DVC stage `ingest`: write the raw batch to data/raw/applications.parquet."""

from loanrisk import stage
from loanrisk.config import load_params
from loanrisk.data.ingest import ingest

RAW = "data/raw/applications.parquet"


def main() -> None:
    params = load_params()
    frame = ingest(params)
    stage.write_parquet(RAW, frame)
    print(f"ingest: {len(frame)} applications from {params.data.source} -> {RAW}")


if __name__ == "__main__":
    stage.run(main)
