"""The language-model task: it learns real text, reports against the order-2 count model, samples
with its cache, exports a next-byte signature, and refuses bad input before touching the run."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from core.data import DatasetError
from core.data.text_folder import load_text_folder
from training import TrainConfig
from training.config import ConfigError
from training.run import run_training
from training.task import TaskError
from training.tasks.byte_ngram_baseline import bits_per_byte, fit_order2
from training.tasks.byte_sampler import ByteSampler, PromptTooLongError
from training.tasks.language_model_report import REPORT_FILE
from tests.training.task_runs import REPO, write_text_folder

LM = dict(task="language_model", model="lm_tiny", dataset="text_folder", sequence_length=32, batch_size=32,
          steps_per_loop=50, eval_every=0, checkpoint_every=0, warmup_steps=10, learning_rate=3e-3,
          precision="float32", jit_compile="false", seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short run on 12 files of real text (~48 KB): its result, log and directory."""
    directory = tmp_path_factory.mktemp("lm")
    config = TrainConfig(model_dir=str(directory / "run"), data_dir=write_text_folder(directory / "text"),
                         train_steps=200, **LM)
    lines = []
    return run_training(config, log=lines.append), lines, config


def _unigram_bits(train, test):
    """Bits per byte of the test text under the training text's byte frequencies (add-one)."""
    frequencies = (np.bincount(train, minlength=256) + 1.0) / (len(train) + 256.0)
    return float(-np.mean(np.log2(frequencies[test])))


def test_it_learns_the_text_and_reports_the_order2_model_beside_it(trained):
    result, lines, config = trained
    corpus = load_text_folder(config.data_dir)
    test = result.training.test_metrics
    assert set(test) == {"loss", "bits_per_byte", "perplexity", "accuracy"}
    assert math.isclose(test["bits_per_byte"], test["loss"] / math.log(2), rel_tol=1e-5)
    assert math.isclose(test["perplexity"], math.exp(test["loss"]), rel_tol=1e-5)
    # Context pays: well below what byte frequencies alone give (~4.9 bits on this text).
    assert test["bits_per_byte"] < _unigram_bits(corpus.train, corpus.test) - 1.0, test
    report = json.loads((os.path.join(config.model_dir, REPORT_FILE) and
                         open(os.path.join(config.model_dir, REPORT_FILE), encoding="utf-8").read()))
    assert math.isclose(report["test"]["bits_per_byte"], test["bits_per_byte"], rel_tol=1e-4)
    expected_baseline = bits_per_byte(fit_order2(corpus.train), corpus.test)
    assert report["order2_baseline"]["bits_per_byte"] == pytest.approx(expected_baseline, rel=1e-9)
    assert len(report["samples"]) == 3 and all(len(sample["continuation"]) > 50 for sample in report["samples"])
    assert any(line.startswith("Test text (") and "order-2 count model" in line for line in lines)
    assert any(line.endswith("sequences of 32 bytes") for line in lines if line.startswith("Data:"))


def test_sampling_with_the_cache_matches_the_whole_window_and_repeats_by_seed(trained):
    model, context = trained[0].training.model, 32
    cached = ByteSampler(model, context)
    uncached = ByteSampler(model, context)
    uncached.cached = False  # What a model without `decode` gets: the whole window per byte.
    prompt = b"def "
    assert cached.sample(prompt, 20, temperature=0) == uncached.sample(prompt, 20, temperature=0)
    drawn = cached.sample(prompt, 80, temperature=1.0, seed=5)  # Past the context: the cache restarts.
    assert len(drawn) == 80 and drawn == cached.sample(prompt, 80, temperature=1.0, seed=5)
    assert drawn != cached.sample(prompt, 80, temperature=1.0, seed=6)
    assert cached.sample(prompt, 10, temperature=1.0, top_k=1, seed=9) == cached.sample(prompt, 10, temperature=0)
    with pytest.raises(PromptTooLongError, match="33 bytes; the model's context is 32"):
        cached.sample(b"x" * 33, 5)


def test_the_export_answers_next_byte_probabilities_in_a_fresh_process(trained):
    result, _, config = trained
    ids = np.frombuffer(b"import os\ndef main():\n    return", np.uint8).astype(np.int32)[None]
    expected = result.training.model(ids[:, -32:]).numpy()[0, -1]
    script = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        f"served = tf.saved_model.load({os.path.join(config.model_dir, 'export')!r})\n"
        f"ids = tf.constant({ids.tolist()}, tf.int32)\n"
        "out = served.signatures['serving_default'](ids=ids)\n"
        "text = served.signatures['serving_text'](text=tf.constant(bytes(ids.numpy()[0].astype('uint8'))))\n"
        "print(json.dumps([out['logits'].numpy()[0].tolist(), float(out['probabilities'].numpy().sum()),\n"
        "                  text['logits'].numpy()[0].tolist()]))\n")
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert completed.returncode == 0, completed.stderr[-2000:]
    logits, total, text_logits = json.loads(completed.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    np.testing.assert_allclose(text_logits, expected, atol=1e-4)
    assert total == pytest.approx(1.0, abs=1e-5)


def test_the_generate_script_continues_a_prompt_from_the_runs_checkpoint(trained):
    config = trained[2]
    command = [sys.executable, "-m", "training.generate", f"--model_dir={config.model_dir}", "--prompt=def ",
               "--max_bytes=40", "--seed=3", "--temperature=0.5"]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    expected = ByteSampler(trained[0].training.model, 32).sample(b"def ", 40, 0.5, seed=3)
    assert completed.stdout.rstrip("\n") == (b"def " + expected).decode("utf-8", errors="replace")
    too_long = subprocess.run(command[:4] + ["--prompt=" + "x" * 33], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
    assert too_long.returncode == 1 and too_long.stderr.strip().splitlines() == [
        "error: --prompt has 33 bytes; the model's context is 32 (its --sequence_length): shorten the prompt"]


class ShortContextModel:
    """A user's language model with 16 positions, whatever max_length it is given."""

    def __new__(cls, vocab_size, max_length):
        from layers.models import DecoderOnlyTransformer  # pylint: disable=import-outside-toplevel

        return DecoderOnlyTransformer(vocab_size=vocab_size, max_length=16, width=16, depth=1, num_heads=2)


@pytest.mark.parametrize("case, error, match", [
    ("empty folder", DatasetError, "no readable non-empty UTF-8 text file"),
    ("not utf-8", DatasetError, r"bad\.txt: not UTF-8 text \(byte 0xff at offset 0\)"),
    ("too little text", DatasetError, r"the train split has .* bytes, .* sequences of --sequence_length=32; "
                                      r"one batch \(--batch_size=32\) needs 32"),
    ("model's positions", TaskError, r"--model='tests.training.test_language_model:ShortContextModel': building it "
                                     r"for --sequence_length=32 failed"),
])
def test_bad_input_is_one_line_and_the_run_directory_is_not_touched(tmp_path, case, error, match):
    folder = tmp_path / "text"
    settings = dict(LM, train_steps=20)
    if case == "empty folder":
        folder.mkdir()
    elif case == "not utf-8":
        write_text_folder(folder)
        (folder / "bad.txt").write_bytes(b"\xff\xfe text")
    elif case == "too little text":
        write_text_folder(folder, files=12, bytes_per_file=60)
    else:
        write_text_folder(folder)
        settings["model"] = "tests.training.test_language_model:ShortContextModel"
    config = TrainConfig(model_dir=str(tmp_path / "run"), data_dir=str(folder), **settings)
    with pytest.raises(error, match=match) as raised:
        run_training(config, log=lambda line: None)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("settings, match", [
    (dict(augment="crop"), "--augment='crop': an image classification flag; --task=language_model does not use it"),
    (dict(dataset="text_folder"), "--data_dir=None: --dataset=text_folder reads the text files"),
    (dict(dataset="digits"), "--dataset='digits': must be one of python_stdlib, text_folder"),
    (dict(sequence_length=1), "--sequence_length=1: a language model needs at least 2"),
])
def test_flags_that_do_not_fit_a_language_model_are_named(settings, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(task="language_model", **settings)


def test_defaults_follow_the_task_and_a_sequence_flag_is_refused_by_image_classification():
    config = TrainConfig(task="language_model")
    assert (config.model, config.dataset, config.sequence_length) == ("lm_small", "python_stdlib", 256)
    assert (TrainConfig().model, TrainConfig().dataset) == ("small_cnn", "digits")
    with pytest.raises(ConfigError, match="--remat=True: a sequence-task flag"):
        TrainConfig(remat=True)
