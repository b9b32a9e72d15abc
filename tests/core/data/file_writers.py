"""Writers of tiny dataset files in the real formats, for the loader tests (no downloads)."""

import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np

from core.data.cifar_files import LAYOUTS


def random_examples(count, image_shape, num_classes, seed):
    """uint8 images [count, *image_shape] and uint8 labels covering every class when count allows."""
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(count,) + tuple(image_shape)).astype(np.uint8)
    labels = (np.arange(count) % num_classes).astype(np.uint8)
    return images, labels


def idx_bytes(array, magic):
    """An IDX file's bytes: the big-endian magic number and dimensions, then the uint8 elements."""
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def write_mnist_idx(directory, train_count=40, test_count=12, gzipped=False, seed=0):
    """Writes the four MNIST IDX files; returns {role: (images, labels)} of what was written."""
    splits = {"train": random_examples(train_count, (28, 28), 10, seed),
              "t10k": random_examples(test_count, (28, 28), 10, seed + 1)}
    for prefix, (images, labels) in splits.items():
        for kind, array, magic in (("images-idx3", images, 0x803), ("labels-idx1", labels, 0x801)):
            raw = idx_bytes(array, magic)
            name = f"{prefix}-{kind}-ubyte"
            if gzipped:
                raw, name = gzip.compress(raw), name + ".gz"
            with open(os.path.join(directory, name), "wb") as file:
                file.write(raw)
    return splits


class Python2Pickler(pickle._Pickler):  # The pure-Python pickler, whose dispatch table can be extended.
    """Pickles as Python 2's cPickle did for the CIFAR files: str and bytes as byte strings
    (BINSTRING), numpy's globals under numpy 1's module names."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_byte_string(self, obj):
        obj = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)

    dispatch[bytes] = save_byte_string
    dispatch[str] = save_byte_string

    def save_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)


def python2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def cifar_file_contents(dataset, version, per_file=10, test_count=10, seed=0):
    """{file name: bytes} of a whole CIFAR distribution, and the (images, labels) written.

    Returns:
      (files, train, test): train and test are (uint8 images [N, 32, 32, 3], labels [N]).
    """
    layout = next(layout for layout in LAYOUTS[dataset] if layout.version == version)
    num_classes = 10 if dataset == "cifar10" else 100
    files, train_parts = {}, []
    names = list(layout.train_files) + [layout.test_file]
    for index, name in enumerate(names):
        count = test_count if name == layout.test_file else per_file
        images, labels = random_examples(count, (32, 32, 3), num_classes, seed + index)
        planes = images.transpose(0, 3, 1, 2).reshape(count, 3072)  # R plane, G plane, B plane.
        if version == "python":
            label_key = "labels" if dataset == "cifar10" else "fine_labels"
            batch = {"batch_label": f"batch {index}", "data": planes, label_key: [int(x) for x in labels],
                     "filenames": [f"image_{i}.png" for i in range(count)]}
            if dataset == "cifar100":
                batch["coarse_labels"] = [int(x) // 5 for x in labels]
            files[name] = python2_pickle(batch)
        else:
            fine = labels[:, None]
            label_columns = [fine] if dataset == "cifar10" else [fine // 5, fine]  # CIFAR-100: coarse, fine.
            files[name] = np.concatenate(label_columns + [planes], axis=1).astype(np.uint8).tobytes()
        if name == layout.test_file:
            test = (images, labels)
        else:
            train_parts.append((images, labels))
    label_names = [f"class{i}" for i in range(num_classes)]
    if version == "python":
        key = "label_names" if dataset == "cifar10" else "fine_label_names"
        files[layout.names_file] = python2_pickle({key: label_names})
    else:
        files[layout.names_file] = ("\n".join(label_names) + "\n\n").encode()
    train = tuple(np.concatenate(parts) for parts in zip(*train_parts))
    return files, train, test


def write_cifar(directory, dataset="cifar10", version="python", archive=False, **kwargs):
    """Writes a CIFAR distribution as its folder or its .tar.gz; returns (path, train, test)."""
    layout = next(layout for layout in LAYOUTS[dataset] if layout.version == version)
    files, train, test = cifar_file_contents(dataset, version, **kwargs)
    if archive:
        path = os.path.join(directory, layout.archive)
        with tarfile.open(path, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"{layout.folder}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path, train, test
    folder = os.path.join(directory, layout.folder)
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as file:
            file.write(data)
    return folder, train, test
