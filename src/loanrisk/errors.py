"""Errors a user can act on: stages and the CLI print their message as one line and exit 1."""


class LoanriskError(Exception):
    """Base class for every error whose message tells the user what to do next."""


class ConfigError(LoanriskError):
    """`params.yaml` is missing a key, has an unknown one, or a value of the wrong type."""

    @classmethod
    def not_yaml(cls, path: object, exc: Exception) -> "ConfigError":
        """``params.yaml: not valid YAML at line 5, column 10: mapping values are not allowed
        here``: the parser's own words and where, from a PyYAML error."""
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return cls(f"{path}: not valid YAML{where}: {problem}")


class DataSourceError(LoanriskError):
    """The data source named in params could not be read."""


class ContractError(LoanriskError):
    """A batch breaks the contract as a whole (missing column, stale batch, too many bad rows)."""


class StoreError(LoanriskError):
    """The MLflow tracking store could not be reached, or refused what was asked of it."""


class RegistryError(LoanriskError):
    """The MLflow model registry is not in the state the command needs."""


class BundleError(LoanriskError):
    """A serving bundle is incomplete or fails its integrity check."""
