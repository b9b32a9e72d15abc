"""Unpickling that cannot run code: only containers, strings, numbers and numpy arrays.

The CIFAR "python version" files are pickles, and a pickle is a program: its GLOBAL and REDUCE
opcodes import and call any function (`os.system`, `builtins.eval`...). The pickle module
resolves every global a stream names through `Unpickler.find_class` (including the copyreg
extension codes), so refusing all but a short list there means nothing else can be called.

What a CIFAR batch needs: dicts, lists and tuples (opcodes, no globals), str/bytes/int/float,
and numpy arrays, which numpy pickles as `_reconstruct(ndarray, shape, dtype)` + a state with
a `dtype(...)`. Python 3 pickles of bytes at protocol <= 2 add `_codecs.encode(text, "latin1")`.
"""

import io
import pickle

import numpy as np

from core.data.errors import file_error

class RefusedPickle(pickle.UnpicklingError):
    """The stream asked for something outside what a dataset pickle may contain."""


try:  # numpy >= 2 moved the module; files written by numpy 1 (all CIFAR files) name the old one.
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct


def _reconstruct_array(subtype, shape, dtype_code):
    """numpy's array constructor for pickles, for plain ndarrays only (no subclasses)."""
    if subtype is not np.ndarray:
        raise RefusedPickle(f"an array of type {subtype!r}")
    return _reconstruct(subtype, shape, dtype_code)


def _plain_dtype(spec, align=False, copy=False):
    """np.dtype for pickles, refusing object dtypes (whose elements would be arbitrary objects)."""
    dtype = np.dtype(spec, align, copy)
    if dtype.hasobject:
        raise RefusedPickle(f"the object dtype {dtype!r}")
    return dtype


def _latin1_encode(text, encoding):
    """`_codecs.encode` as Python 3 uses it to pickle bytes at protocol 2, and for nothing else."""
    if not isinstance(text, str) or encoding != "latin1":
        raise RefusedPickle(f"_codecs.encode with the encoding {encoding!r}")
    return text.encode("latin1")


# (module, name) a stream may name -> what it gets instead of the real global.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler whose `find_class` admits only ALLOWED_GLOBALS.

    Strings written by Python 2 (every CIFAR file) load as bytes (`encoding="bytes"`), which
    is also what numpy needs for their array data.
    """

    def __init__(self, file):
        super().__init__(file, encoding="bytes")

    def find_class(self, module, name):
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise RefusedPickle(f"a call of {module}.{name}")
        return allowed


def load_restricted_pickle(data: bytes, source):
    """Unpickles `data` with RestrictedUnpickler.

    Args:
      data: the pickle's bytes.
      source: the file they came from, for messages.

    Returns:
      The unpickled object.

    Raises:
      DatasetError: naming `source`, when the stream names a refused global (nothing of it is
        called) or is truncated or corrupt.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except RefusedPickle as refused:
        raise file_error(source, f"refused to unpickle {refused}: a dataset pickle holds only containers, "
                                 "strings, numbers and numpy arrays, so the file is corrupt or crafted; "
                                 "nothing in it was run") from None
    # A cut or damaged stream fails in many ways (EOFError, UnpicklingError for a bad opcode, a
    # constructor given the wrong arguments, a missing memo entry); all mean the file is unusable.
    except Exception as error:  # noqa: BLE001
        raise file_error(source, f"is truncated or not a pickle ({type(error).__name__}: {error})") from None
