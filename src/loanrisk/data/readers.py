"""Read a batch of applications from a CSV or Parquet file, local or over http(s)."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from loanrisk.errors import DataSourceError

SUFFIXES = (".csv", ".parquet", ".pq")
TIMEOUT_S = 60


def read_table(source: str, timestamp: str | None = None) -> pd.DataFrame:
    """Read ``source`` (a path or an http(s) URL ending in .csv, .parquet or .pq).

    Types are left to the contract to coerce and judge, except the ``timestamp`` column,
    which a CSV cannot carry: it is parsed here so that an unparseable date shows up as a
    null (and so in the quarantine) rather than as a string.
    """
    suffix = Path(source.split("?", 1)[0]).suffix.lower()
    if suffix not in SUFFIXES:
        raise DataSourceError(f"{source}: expected a .csv, .parquet or .pq file, got {suffix!r}")
    payload: str | io.BytesIO = source
    if source.startswith(("http://", "https://")):
        payload = io.BytesIO(_download(source))
    elif not Path(source).is_file():
        raise DataSourceError(f"{source}: no such file")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(payload)
            if timestamp is not None and timestamp in frame:
                frame[timestamp] = pd.to_datetime(frame[timestamp], errors="coerce")
        else:
            frame = pd.read_parquet(payload)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataSourceError(f"{source}: could not be read as {suffix[1:]} ({exc})") from None
    return frame


def _download(url: str) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise DataSourceError(f"{url}: only http:// and https:// URLs are downloaded")
    try:
        # urlopen also opens file: and ftp: URLs; the scheme is checked above, and its
        # redirects go to http, https or ftp only.
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # nosec B310 # http(s)
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, TimeoutError) as exc:
        raise DataSourceError(f"{url}: download failed ({exc})") from None
