"""The coding tests' small win/loss survey: phone answers whose options map to reason codes."""

from tests.coding.conftest import respond, survey  # noqa: F401 (fixtures reused)
