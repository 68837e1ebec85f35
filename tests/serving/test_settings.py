"""The service's settings (`serving/settings.py`)."""

from __future__ import annotations

import pytest

from serving.settings import load_settings


def test_bad_settings_are_one_line_naming_the_variable() -> None:
    from loanrisk.errors import ConfigError

    with pytest.raises(ConfigError, match="LOANRISK_CANARY_FRACTION"):
        load_settings({"LOANRISK_CANARY_FRACTION": "lots"})
    assert load_settings({"MODEL_URI": "models:/x@champion"}).model_uri == "models:/x@champion"


def test_a_short_token_is_refused_at_start_up() -> None:
    from loanrisk.errors import ConfigError

    for variable in ("LOANRISK_ADMIN_TOKEN", "LOANRISK_FEEDBACK_TOKEN"):
        with pytest.raises(ConfigError, match=variable):
            load_settings({variable: "letmein"})
        assert load_settings({variable: "x" * 16}) is not None
