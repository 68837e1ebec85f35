"""Imported first by every stage: one readable line, not a traceback, when the stage runs
under a Python without the project installed (`.venv/bin/dvc repro` from a shell whose
`python` is the system's, say)."""

try:
    import loanrisk  # noqa: F401
except ModuleNotFoundError:
    raise SystemExit(
        "error: the loanrisk package is not installed for this Python; run `make setup` "
        "and `source .venv/bin/activate`"
    ) from None
