import pytest


@pytest.fixture(autouse=True)
def _mmseg_default_scope(mmseg_scope):
    """Every dataset test builds pipelines in the mmseg scope."""
    yield
