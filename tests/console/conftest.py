"""Console tests run on a `--test-clock` server per module (tests.sdk.invoice_support)."""

from tests.sdk.invoice_support import clock_server  # noqa: F401 - fixture
