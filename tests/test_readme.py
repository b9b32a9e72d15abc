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


def test_hooks_example_calls_the_hook_at_each_validation_and_keeps_the_best(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # The example writes runs/hooks.
    namespace = {"__name__": "readme_hooks_example"}
    exec(compile(_example("readme-example:hooks"), "README.md", "exec"), namespace)
    result, losses = namespace["result"], namespace["losses"]
    assert losses == [(step, metrics["loss"]) for step, metrics in result.validation_history]
    assert f"Stopped at step {result.final_step}; validation loss by step: {losses}" in capsys.readouterr().out
    best_step = min(losses, key=lambda pair: pair[1])[0]
    assert (tmp_path / "runs" / "hooks" / "best" / f"ckpt-{best_step}.index").exists()
