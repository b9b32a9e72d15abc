"""Text for the language model: the embedded standard-library corpus, text folders, byte windows."""

import os

import numpy as np
import pytest
import tensorflow as tf

from core.data import DatasetError
from core.data.byte_windows import byte_windows, evaluation_windows, training_windows
from core.data.python_stdlib_corpus import (TEST_MODULES, TRAIN_MODULES, VALIDATION_MODULES,
                                            load_python_stdlib_corpus, module_path)
from core.data.text_folder import load_text_folder
from core.data.text_splits import SEPARATOR


def test_the_stdlib_corpus_is_this_pythons_modules_split_by_module_without_overlap():
    modules = TRAIN_MODULES + VALIDATION_MODULES + TEST_MODULES
    assert len(set(modules)) == len(modules)  # No module in two splits.
    corpus = load_python_stdlib_corpus()
    assert corpus.files == {"train": len(TRAIN_MODULES), "validation": len(VALIDATION_MODULES),
                            "test": len(TEST_MODULES)}
    # The test split is exactly its modules' sources, joined by the separator, in list order.
    import sysconfig  # pylint: disable=import-outside-toplevel
    stdlib = sysconfig.get_paths()["stdlib"]
    expected = bytes([SEPARATOR]).join(open(module_path(stdlib, name), "rb").read() for name in TEST_MODULES)
    assert bytes(corpus.test) == expected
    assert corpus.num_bytes["train"] > 2_000_000  # Real text: megabytes, not a fixture.
    assert bytes(load_python_stdlib_corpus().train) == bytes(corpus.train)  # The same every time.


def test_a_stripped_stdlib_names_the_missing_modules_and_an_empty_split_is_an_error(tmp_path):
    for name in TRAIN_MODULES[:2] + VALIDATION_MODULES[:1] + TEST_MODULES[:1]:
        path = tmp_path / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n")
    corpus = load_python_stdlib_corpus(str(tmp_path))
    assert corpus.files == {"train": 2, "validation": 1, "test": 1}
    assert TRAIN_MODULES[2] in corpus.description and "missing" in corpus.description
    os.remove(tmp_path / (TEST_MODULES[0].replace(".", "/") + ".py"))
    with pytest.raises(DatasetError, match="none of the test modules"):
        load_python_stdlib_corpus(str(tmp_path))


def _write_files(folder, count, size=50):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"doc{index:02d}.txt").write_bytes(bytes([65 + index % 26]) * size)


def test_a_folder_of_ten_files_or_more_is_split_by_file(tmp_path):
    _write_files(tmp_path / "corpus", 20)
    (tmp_path / "corpus" / ".hidden").write_bytes(b"\xff\xfe")  # Hidden: not read, so not an error.
    corpus = load_text_folder(str(tmp_path / "corpus"))
    assert corpus.files == {"train": 16, "validation": 2, "test": 2}
    # Files 8 and 18 (I, S) validate; 9 and 19 (J, T) test; path order.
    assert set(bytes(corpus.validation)) == {ord("I"), ord("S"), SEPARATOR}
    assert set(bytes(corpus.test)) == {ord("J"), ord("T"), SEPARATOR}


def test_a_few_files_are_split_by_position(tmp_path):
    _write_files(tmp_path / "corpus", 2, size=1000)
    corpus = load_text_folder(str(tmp_path / "corpus"))
    assert corpus.num_bytes == {"train": 1800, "validation": 100, "test": 101}
    assert "by position" in corpus.description


def test_a_file_that_is_not_utf8_is_named_with_its_offset_or_skipped_by_flag(tmp_path):
    _write_files(tmp_path / "corpus", 3)
    (tmp_path / "corpus" / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"latin1\.txt: not UTF-8 text \(byte 0xe9 at offset 3\).*"
                                           "--skip_undecodable_files"):
        load_text_folder(str(tmp_path / "corpus"))
    skipped = []
    corpus = load_text_folder(str(tmp_path / "corpus"), skip_undecodable=True, log=skipped.append)
    assert "1 files skipped" in corpus.description and len(skipped) == 1 and "latin1.txt" in skipped[0]


@pytest.mark.parametrize("content", [None, b"", b"\xff\xff"])
def test_a_folder_without_readable_text_is_one_error(tmp_path, content):
    folder = tmp_path / "corpus"
    folder.mkdir()
    if content is not None:
        (folder / "only.txt").write_bytes(content)
    with pytest.raises(DatasetError, match="no readable non-empty UTF-8 text file"):
        load_text_folder(str(folder), skip_undecodable=True, log=lambda line: None)
    with pytest.raises(DatasetError, match="not a directory"):
        load_text_folder(str(tmp_path / "absent"))


def test_windows_overlap_by_one_byte_so_every_byte_after_the_first_is_a_target_once():
    text = np.arange(23, dtype=np.uint8)
    windows = byte_windows(text, 5)
    assert windows.shape == (4, 6)  # (23 - 1) // 5 whole windows; the last 2 bytes are left out.
    targets = windows[:, 1:].ravel()
    np.testing.assert_array_equal(targets, np.arange(1, 21))
    batches = [batch.numpy() for batch in evaluation_windows(text, 5, 3)]
    assert [len(batch) for batch in batches] == [3, 1]


def test_training_windows_are_a_seeded_permutation_per_epoch_with_a_small_checkpoint(tmp_path):
    text = np.arange(4 * 64 + 1, dtype=np.int64).astype(np.uint8)  # 64 windows of 4 bytes; ids by first byte.
    first = lambda seed: [int(window[0]) // 4 % 64 for batch in training_windows(text, 4, 16, seed).take(8)
                          for window in batch.numpy()]
    order = first(3)
    assert sorted(order[:64]) == list(range(64)) and sorted(order[64:]) == list(range(64))
    assert order[:64] != order[64:] and order == first(3) and order != first(4)
    text = np.random.default_rng(0).integers(0, 256, 64 * 1024 + 1).astype(np.uint8)  # 64 KB of text.
    iterator = iter(training_windows(text, 1024, 16, 3, prefetch_batches=4))
    next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).write(str(tmp_path / "ckpt"))
    expected = next(iterator).numpy()
    restored = iter(training_windows(text, 1024, 16, 3, prefetch_batches=4))
    tf.train.Checkpoint(iterator=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(next(restored).numpy(), expected)
    # Positions only: the text (64 KB) and the prefetched batches (4 x 16 KB) are not in it.
    assert os.path.getsize(path + ".data-00000-of-00001") < 4096


def test_fewer_windows_than_a_batch_is_an_error():
    with pytest.raises(ValueError, match="fewer than one batch of 8"):
        training_windows(np.zeros(20, np.uint8), 4, 8, 0)
