"""The README's conformance example, copied into a user's test file, passes in a fresh process.

tapecraft's own conftest.py splits the CPU before any test runs, so an in-process test cannot
see what a user's first test sees: TensorFlow not yet initialized, one logical CPU. This runs
pytest on a copy of the example outside the repository (no conftest), where the `distribution`
check passes only if check_layer splits the CPU itself. One subprocess (~8 s of CPU, most of
it importing TensorFlow).
"""

import os
import subprocess
import sys

from tests.test_readme import README, _example


def test_readme_conformance_example_passes_in_a_fresh_pytest_process(tmp_path):
    (tmp_path / "test_scaled_dense.py").write_text(_example("readme-example:conformance"))
    repository = str(README.parent)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                       PYTHONPATH=os.pathsep.join(filter(None, [repository, os.environ.get("PYTHONPATH")])))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "test_scaled_dense.py"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    # The example asserts that no check was skipped, so passing means `distribution` ran and passed.
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert "1 passed" in completed.stdout
