import os

import pytest

# PyTorch's OpenMP threads spin while they wait; with several test processes sharing two cores
# that spinning multiplies run times. Passive waiting must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory):
    """The suite's cache folder (synthetic trees, mask pools, annotation parses): a temporary
    one, so no test writes to the home folder or the working tree; tests that need their own
    set BENCHMARK_CACHE or pass --cache-dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHMARK_CACHE", str(tmp_path_factory.mktemp("benchmark-cache")))
        yield
