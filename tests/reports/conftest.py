"""The coding tests' small win/loss survey: phone answers whose options map to reason codes."""

from tests.coding.conftest import respond, survey  # noqa: F401 (fixtures reused)
from tests.reports.test_recovery_funnel import recovery  # noqa: F401, E402 (the funnel world, reused)
