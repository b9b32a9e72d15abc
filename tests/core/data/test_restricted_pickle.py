"""The restricted unpickler loads dataset pickles and refuses, without running it, anything else."""

import os
import pickle
import subprocess
import tarfile

import numpy as np
import pytest

from core.data import DatasetError
from core.data.cifar import load_cifar
from core.data.restricted_pickle import load_restricted_pickle
from tests.core.data.file_writers import python2_pickle, write_cifar


class SystemCall:
    """Unpickling it with the standard pickle module runs a shell command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class EvalCall:
    def __init__(self, source):
        self.source = source

    def __reduce__(self):
        return eval, (self.source,)


class PopenCall:
    def __init__(self, arguments):
        self.arguments = arguments

    def __reduce__(self):
        return subprocess.Popen, (self.arguments,)


PAYLOADS = {
    "os.system": lambda marker: SystemCall(f"touch {marker}"),
    "builtins.eval": lambda marker: EvalCall(f"open({str(marker)!r}, 'w').close()"),
    "subprocess.Popen": lambda marker: PopenCall(["touch", str(marker)]),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_crafted_pickle_is_refused_without_running(tmp_path, payload, protocol):
    marker = tmp_path / "marker"
    data = pickle.dumps({b"data": PAYLOADS[payload](marker), b"labels": [0]}, protocol=protocol)
    with pytest.raises(DatasetError) as error:
        load_restricted_pickle(data, "data_batch_1")
    assert not marker.exists()
    message = str(error.value)
    assert message.startswith("data_batch_1: refused to unpickle a call of ")
    assert "nothing in it was run" in message
    # The payload is live: the standard unpickler runs it (a test that proves the refusal matters).
    if payload != "subprocess.Popen":  # Popen returns before `touch` ends; the others are synchronous.
        pickle.loads(data)
        assert marker.exists()


@pytest.mark.parametrize("archive", [False, True])
def test_crafted_cifar_batch_fails_loading_with_the_file_named(tmp_path, archive):
    folder, _, _ = write_cifar(tmp_path, "cifar10", "python", archive=False)
    marker = tmp_path / "marker"
    with open(os.path.join(folder, "data_batch_3"), "wb") as file:
        pickle.dump({b"data": SystemCall(f"touch {marker}"), b"labels": []}, file, protocol=2)
    if archive:
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname="cifar-10-batches-py")
        os.rename(folder, tmp_path / "moved-away")
    with pytest.raises(DatasetError, match=r"data_batch_3: refused to unpickle a call of posix.system"):
        load_cifar(str(tmp_path), "cifar10")
    assert not marker.exists()


def test_object_arrays_are_refused():
    data = pickle.dumps({"data": np.array([1, "two"], dtype=object)}, protocol=2)
    with pytest.raises(DatasetError, match="refused to unpickle the object dtype"):
        load_restricted_pickle(data, "batch")


def test_codecs_encode_only_decodes_latin1():
    # Protocol 2 writes bytes as _codecs.encode(text, "latin1"); another codec is not a dataset's need.
    data = pickle.dumps(b"abc", protocol=2).replace(b"latin1", b"rot_13")
    with pytest.raises(DatasetError, match="_codecs.encode with the encoding 'rot_13'"):
        load_restricted_pickle(data, "batch")


@pytest.mark.parametrize("writer", ["python2", "python3_protocol2", "python3_protocol4"])
def test_loads_what_dataset_pickles_contain(writer):
    batch = {b"data": np.arange(24, dtype=np.uint8).reshape(2, 12), b"labels": [3, 7], b"name": "batch 1",
             b"scale": 0.5, b"shape": (2, 12)}
    if writer == "python2":
        data = python2_pickle(batch)
    else:
        data = pickle.dumps(batch, protocol=2 if writer.endswith("2") else 4)
    loaded = load_restricted_pickle(data, "batch")
    np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])
    assert loaded[b"labels"] == [3, 7] and loaded[b"scale"] == 0.5 and loaded[b"shape"] == (2, 12)
    assert loaded[b"name"] in ("batch 1", b"batch 1")  # Python 2 strings load as bytes.


@pytest.mark.parametrize("cut", [1, 100, 2000])
def test_truncated_pickle_is_reported(cut):
    data = python2_pickle({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]})
    with pytest.raises(DatasetError, match=r"^batch: is truncated or not a pickle"):
        load_restricted_pickle(data[:-cut], "batch")


def test_garbage_is_reported():
    with pytest.raises(DatasetError, match=r"^batch: is truncated or not a pickle"):
        load_restricted_pickle(b"\x89PNG not a pickle", "batch")
