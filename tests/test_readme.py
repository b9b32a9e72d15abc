"""The README's Python example runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _example(marker):
    text = README.read_text()
    match = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"README has no python block after <!-- {marker} -->"
    return match.group(1)


def test_python_api_example_trains_a_custom_layer(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # The example writes runs/my_net relative to the working directory.
    namespace = {"__name__": "readme_example"}
    exec(compile(_example("readme-example:python-api"), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.precision == "mixed_bfloat16"
    assert result.test_accuracy >= 0.9
    assert f"Test accuracy: {result.test_accuracy:.4f}" in capsys.readouterr().out
    assert (tmp_path / "runs" / "my_net" / "ckpt-300.index").exists()


def test_conformance_example_passes_for_the_readme_layer():
    namespace = {"__name__": "readme_conformance_example"}
    exec(compile(_example("readme-example:conformance"), "README.md", "exec"), namespace)
    namespace["test_scaled_dense_conforms"]()  # Raises ConformanceError on any failed check.
