"""Real data plugs in through the same door: CSV or Parquet, local or over HTTP."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from loanrisk.data.readers import read_table
from loanrisk.errors import DataSourceError


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_csv_and_parquet_read_back_the_same_batch(batch: pd.DataFrame, tmp_path: Path) -> None:
    batch.to_csv(tmp_path / "b.csv", index=False)
    batch.to_parquet(tmp_path / "b.parquet", index=False)
    from_csv = read_table(str(tmp_path / "b.csv"), "applied_at")
    from_parquet = read_table(str(tmp_path / "b.parquet"))
    pd.testing.assert_frame_equal(from_parquet, batch)
    for column in ("application_id", "applied_at", "income", "has_guarantor"):
        pd.testing.assert_series_equal(from_csv[column], batch[column], check_dtype=False)


def test_a_file_is_read_over_http(batch: pd.DataFrame, tmp_path: Path, served: str) -> None:
    batch.head(50).to_parquet(tmp_path / "b.parquet", index=False)
    assert len(read_table(f"{served}/b.parquet")) == 50


def test_unreadable_sources_are_clear_errors(tmp_path: Path, served: str) -> None:
    with pytest.raises(DataSourceError, match="no such file"):
        read_table(str(tmp_path / "absent.csv"))
    with pytest.raises(DataSourceError, match=r"expected a \.csv"):
        read_table(str(tmp_path / "data.xlsx"))
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataSourceError, match="could not be read"):
        read_table(str(tmp_path / "junk.parquet"))
    with pytest.raises(DataSourceError, match="download failed"):
        read_table(f"{served}/absent.csv")
