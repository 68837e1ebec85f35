"""Canonical MLflow scikit-learn model directories: the same model always gives the same bytes.

Why: DVC records a hash of every file of ``models/`` in ``dvc.lock``, and ``git status`` shows
``dvc.lock`` as changed whenever one of them changes. ``mlflow.sklearn.save_model`` stamps each
save with things that are not the model: a random ``model_uuid`` and the time in ``MLmodel``;
in the skops archive, the time on every zip entry, and CPython object ids (memory addresses) as
the ``__id__`` of every node of ``schema.json`` and in the names of the array files. So a
``dvc repro`` that refits a model bit for bit still rewrote every model file, dirtied the lock
file and made downstream stages look stale.

What: :func:`save_canonical` lets MLflow write the directory exactly as it does, then rewrites
the two files that vary into a canonical form that loads into the same estimator:

- the skops archive (``model.skops``): object ids renumbered 1, 2, 3, ... in the order a
  depth-first walk of ``schema.json`` first meets them, array (and other data) files renamed
  to match, set elements in a sorted order, entries sorted by name, every entry dated
  1980-01-01 with fixed attributes and the compression skops used;
- ``MLmodel``: without ``model_uuid`` and ``utc_time_created``, ``model_size_bytes`` corrected
  for the rewritten archive, and otherwise exactly as MLflow writes it.

The other files MLflow writes (environment files, requirements, input examples) are already a
function of the model, the example and the installed packages.

Only the directory saved here is canonical. The copy MLflow logs to the tracking store
(``mlflow.sklearn.log_model``) is left as MLflow writes it: a run and a model id identify it,
not its bytes, and MLflow's own records (its uuid and creation time) stay true.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import mlflow
import yaml

from loanrisk.stage import atomic_directory, file_digest

MLMODEL = "MLmodel"
SCHEMA = "schema.json"
VOLATILE_KEYS = ("model_uuid", "utc_time_created")
"""Top-level ``MLmodel`` keys that differ on every save of the same model."""

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""The earliest date a zip entry can carry: the conventional timestamp of reproducible zips."""
ZIP_ATTRIBUTES = 0o600 << 16
"""Unix mode ``rw-------``: what :meth:`zipfile.ZipFile.writestr` gives the entries skops
writes, fixed here so the archive does not depend on the platform or Python version."""
ZIP_SYSTEM_UNIX = 3


def save_canonical(
    estimator: Any,
    path: str | Path,
    extra_files: dict[str, str] | None = None,
    **serialisation: Any,
) -> str:
    """Save ``estimator`` as an MLflow model directory at ``path`` in canonical form.

    ``serialisation`` is passed to :func:`mlflow.sklearn.save_model` as it is (this project
    passes :func:`loanrisk.tracking.serialisation`); it must ask for the skops format. The
    directory is written beside ``path`` and then replaces it (``stage.atomic_directory``):
    a save killed half-way leaves no half-written model. Saving the same fitted model twice, or
    two deterministic refits of it, gives byte-identical directories, so ``dvc repro`` leaves
    ``dvc.lock`` and ``git status`` clean when nothing about the model changed.

    ``extra_files`` (name -> text) are written beside MLflow's files, before the fingerprint
    is taken: the reference profile travels with the model this way.

    Returns the directory's :func:`fingerprint`.
    """
    with atomic_directory(path) as target:
        mlflow.sklearn.save_model(estimator, str(target), **serialisation)
        _canonicalise(target)
        for name, text in (extra_files or {}).items():
            (target / name).write_text(text)
        return fingerprint(target)


def fingerprint(path: str | Path) -> str:
    """The hex SHA-256 of a directory: over its files' relative paths and contents.

    Each file contributes the line ``"<relative POSIX path>\\0<hex SHA-256 of the file>\\n"``,
    in order of the paths; directories themselves, and file times and modes, do not count.
    Two directories have the same fingerprint exactly when they hold the same files with the
    same bytes.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    files = sorted(
        (item.relative_to(root).as_posix(), item) for item in root.rglob("*") if item.is_file()
    )
    digest = hashlib.sha256()
    for relative, item in files:
        digest.update(f"{relative}\0{file_digest(item, 'sha256')}\n".encode())
    return digest.hexdigest()


def canonical_skops(data: bytes) -> bytes:
    """A skops archive rewritten so that its bytes depend only on the object it holds.

    skops names each node of ``schema.json`` by ``id()`` of the object it was saved from
    (``__id__``; nodes of one shared object repeat the id, which is how loading restores the
    sharing) and names each numpy array, sparse matrix or bytes file after the object's id
    (``<id>.npy``, ``<id>.npz``) or a random uuid (``<uuid>.bin``). Here:

    - the elements of every set node are put in an order that does not depend on the string
      hash seed (sorted by their content, ids left out);
    - ids become 1, 2, 3, ... in the order a depth-first, document-order walk first meets them.
      Numbering starts at 1 because skops' loader only memoises nodes with a true ``__id__``;
      an id of 0 would silently lose the sharing of that object;
    - each data file is renamed ``<new id><suffix>`` after the node that refers to it;
    - entries are written sorted by name, dated :data:`ZIP_DATE`, with :data:`ZIP_ATTRIBUTES`
      and the compression of the original entry.

    Raises ValueError for an archive this does not understand: an entry that no node refers
    to, a data node without an id, one file for two objects or two contents for one.
    Canonicalising a canonical archive returns it unchanged.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        infos = {info.filename: info for info in source.infolist()}
        schema = json.loads(source.read(SCHEMA))
        _sort_sets(schema, source)
        renamed: dict[str, str] = {}
        _renumber(schema, {}, renamed)
        unreferenced = sorted(set(infos) - set(renamed) - {SCHEMA})
        if unreferenced:
            raise ValueError(f"skops archive entries no node refers to: {unreferenced}")
        entries = {SCHEMA: (json.dumps(schema, indent=2).encode(), infos[SCHEMA].compress_type)}
        for old, new in renamed.items():
            content = source.read(old)
            if new in entries and entries[new][0] != content:
                raise ValueError(f"skops archive: two contents for {new} (one object id)")
            entries[new] = (content, infos[old].compress_type)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name in sorted(entries):
            content, compression = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = compression
            info.external_attr = ZIP_ATTRIBUTES
            info.create_system = ZIP_SYSTEM_UNIX
            target.writestr(info, content)
    return buffer.getvalue()


def _canonicalise(root: Path) -> None:
    """Rewrite the skops archive and ``MLmodel`` of the model directory ``root`` in place."""
    meta = yaml.safe_load((root / MLMODEL).read_text())
    flavor = meta["flavors"]["sklearn"]
    if flavor.get("serialization_format") != "skops":
        raise ValueError(
            f"{root}: serialised as {flavor.get('serialization_format')!r}; "
            "only skops archives can be made canonical"
        )
    archive = root / flavor["pickled_model"]
    original = archive.read_bytes()
    canonical = canonical_skops(original)
    archive.write_bytes(canonical)
    for key in VOLATILE_KEYS:
        meta.pop(key, None)
    if "model_size_bytes" in meta:
        # MLflow records the total size of the files in the directory when it writes MLmodel
        # (the archive, the input examples and any code or extra files; not MLmodel and the
        # environment files it writes afterwards). Only the archive's size has changed since.
        meta["model_size_bytes"] += len(canonical) - len(original)
    # Exactly how mlflow.models.Model.to_yaml writes the file.
    (root / MLMODEL).write_text(yaml.safe_dump(meta, default_flow_style=False))


def _is_node(value: Any) -> bool:
    """A node of skops' schema (as opposed to, e.g., the key-to-node mapping of a dict node)."""
    return isinstance(value, dict) and "__loader__" in value


def _sort_sets(value: Any, source: zipfile.ZipFile) -> None:
    """Order the elements of every set node by their content, innermost sets first.

    skops writes a set in iteration order, which for strings depends on the per-process hash
    seed; a set's order carries no meaning, so any fixed order loads into an equal set.
    """
    if isinstance(value, list):
        for child in value:
            _sort_sets(child, source)
    elif isinstance(value, dict):
        for child in value.values():
            _sort_sets(child, source)
    if _is_node(value) and value["__loader__"] == "SetNode":
        value["content"].sort(key=lambda element: _content_key(element, source))


def _content_key(value: Any, source: zipfile.ZipFile) -> str:
    """A node's content as text, without object ids, data files by their SHA-256."""

    def strip(item: Any) -> Any:
        if isinstance(item, list):
            return [strip(child) for child in item]
        if not isinstance(item, dict):
            return item
        stripped = {key: strip(child) for key, child in item.items()}
        if _is_node(item):
            stripped.pop("__id__", None)
            if isinstance(item.get("file"), str):
                stripped["file"] = hashlib.sha256(source.read(item["file"])).hexdigest()
        return stripped

    return json.dumps(strip(value), sort_keys=True)


def _renumber(value: Any, ids: dict[int, int], renamed: dict[str, str]) -> None:
    """Renumber ``__id__`` in document order, starting at 1, and rename the data files.

    ``ids`` maps old ids to new ones and ``renamed`` old file names to new ones; both are
    filled in as the walk goes. A node is numbered before its children.
    """
    if isinstance(value, list):
        for child in value:
            _renumber(child, ids, renamed)
        return
    if not isinstance(value, dict):
        return
    if _is_node(value):
        if "__id__" in value:
            value["__id__"] = ids.setdefault(value["__id__"], len(ids) + 1)
        if isinstance(value.get("file"), str):
            if "__id__" not in value:
                raise ValueError(f"skops archive: a node without an id refers to {value['file']}")
            old, new = value["file"], f"{value['__id__']}{PurePosixPath(value['file']).suffix}"
            if renamed.setdefault(old, new) != new:
                raise ValueError(f"skops archive: nodes of two objects refer to {old}")
            value["file"] = new
    for child in value.values():
        _renumber(child, ids, renamed)
