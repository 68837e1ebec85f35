"""The bundle's card says which registered version it describes (`registry.bundle`)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from loanrisk.registry.bundle import stamp_version

CARD = "---\nlicense: apache-2.0\nfingerprint: abc123\n---\n# Model card\n\nBody: 0.82\n"


def test_the_registered_version_joins_the_front_matter_the_hub_reads(tmp_path: Path) -> None:
    (tmp_path / "model.md").write_text(CARD)
    stamp_version(tmp_path, 7)
    stamped = (tmp_path / "model.md").read_text()
    metadata = ModelCard(stamped).data.to_dict()
    assert metadata["registered_version"] == "7" and metadata["fingerprint"] == "abc123"
    assert stamped.endswith("---\n# Model card\n\nBody: 0.82\n")  # the body is untouched


def test_a_card_without_front_matter_or_a_version_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "plain.md").write_text("# Model card\n")
    (tmp_path / "model.md").write_text(CARD)
    stamp_version(tmp_path, None)
    stamp_version(tmp_path / "missing", 3)  # a bundle without a card: nothing made
    assert not (tmp_path / "missing").exists()
    assert (tmp_path / "model.md").read_text() == CARD
    stamp_version(tmp_path, 3)
    assert (tmp_path / "plain.md").read_text() == "# Model card\n"
