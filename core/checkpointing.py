"""Checkpoints of everything a run needs to continue exactly where it stopped.

A save is atomic for a killed process: TensorFlow writes the tensors under `ckpt-N_temp/`,
renames the data file into place, writes `ckpt-N.index` under a temporary name and renames it,
and only then rewrites the `checkpoint` state file (itself through a temporary file). A process
killed at any point leaves the previous checkpoint listed and whole. Nothing is fsync'ed, so
after a power loss or a full disk the newest files can be short or empty: restoring then falls
back to the newest checkpoint that reads back whole, and says so.

Restoring never starts silently from scratch over a run: when checkpoint files exist but none
can be read, or one was written by another model, it raises CheckpointError naming the file.
Saving refuses weights that hold NaN or Inf, so the newest checkpoint is always a usable one. A
save the disk refuses (full, read-only) raises StorageError and leaves no partial files; what
killed saves left is removed when a run holding the directory's lock opens it.
"""

import glob
import os
import re

import keras
import tensorflow as tf
# The checkpoint format's object-graph proto (no public reader gives a node's checkpoint key);
# tests/core/test_checkpointing.py fails loudly if its layout changes.
from tensorflow.core.protobuf import trackable_object_graph_pb2

from core.interrupted_saves import remove_interrupted_saves, remove_partial_save
from core.run_config_store import RUN_CONFIG_FILE, run_config_path
from core.run_lock import holds_run_directory_lock
from core.storage_errors import StorageError, storage_error

PREFIX = "ckpt"
STATE_FILE = "checkpoint"
# Exceptions TensorFlow raises for checkpoint files that are missing, short or corrupt. The
# reader's "Read less bytes than requested" for a short data file comes as IndexError.
_UNREADABLE = (tf.errors.OpError, IndexError)
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class CheckpointError(Exception):
    """A checkpoint cannot be used; the one-line message names the file and the problem."""


class NonFiniteWeightsError(FloatingPointError):
    """A save was refused because a variable holds NaN or Inf.

    Attributes:
      variable: the name of the first such variable.
    """

    def __init__(self, variable, step):
        super().__init__(f"variable {variable} holds NaN or Inf, so {PREFIX}-{step} was not written")
        self.variable = variable


# Trackables a run can do without when a checkpoint's copy does not fit this version of the code:
# the input's position, which the run recomputes by replaying the input to the restored step.
REPLAYABLE = ("train_iterator",)


class TrainingCheckpoint:
    """Saves and restores a set of named trackables (model, optimizer, step, data iterator...).

    Args:
      directory: where checkpoints go; created if missing.
      max_to_keep: how many of the newest checkpoints to keep on disk.
      restore_directory: where to look for the checkpoint to restore, when not `directory`
        (a non-chief worker of a multi-worker job saves into a temporary directory but restores
        the chief's checkpoints; core/cluster.py).
      **trackables: the objects to save, by name. Optimizer slots must already exist (call
        `optimizer.build(model.trainable_variables)`) or their saved values are dropped. A list
        of variables is matched by position, and its shapes are checked before restoring.
    """

    def __init__(self, directory: str, max_to_keep: int = 3, restore_directory: str | None = None,
                 **trackables):
        self.directory = directory
        self.restore_directory = restore_directory
        self.max_to_keep = max_to_keep
        self.trackables = trackables
        self.unrestored = ()  # REPLAYABLE names the last restore left out (see restore_latest).
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.notes = []  # Lines for the run's log about what was found on disk.
        if holds_run_directory_lock(directory):  # No other process can be saving here.
            removed = remove_interrupted_saves(directory, PREFIX, STATE_FILE)
            if removed:
                self.notes.append(f"Removed what interrupted saves left in {directory}: {', '.join(removed)}")
        try:
            self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=max_to_keep)
        except ValueError:  # An empty or half-written state file; the checkpoints may be fine.
            state = os.path.join(directory, STATE_FILE)
            os.replace(state, state + ".unreadable")
            self.notes.append(f"{state} was unreadable; moved it to {state}.unreadable")
            self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=max_to_keep)

    @property
    def latest_path(self) -> str | None:
        return self.manager.latest_checkpoint


    def restore_latest(self, log=print) -> str | None:
        """Restores the newest checkpoint that reads back whole, and returns its path.

        Returns None when the directory holds no checkpoint at all.

        Raises:
          CheckpointError: when checkpoints exist but none is readable, or the newest readable
            one does not fit these objects (another model, other shapes).
        """
        for note in self.notes:
            log(note)
        problems, unreadable = [], []
        for path in checkpoint_candidates(self.restore_directory or self.directory):
            try:
                self._check_variable_lists(path)
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except _UNREADABLE as error:
                if self._restore_without_replayable(path, error, log):
                    return path
                problems.append(f"{path}: {_first_line(error)}")
                unreadable.append(path)
                log(f"Checkpoint {path} is unreadable ({_first_line(error)}); trying the one before it")
                continue
            except (ValueError, AssertionError) as error:
                raise CheckpointError(
                    f"checkpoint {path} does not fit this run: {_first_line(error)}") from None
            if unreadable:
                log(f"Restored {path} instead of the newer, unreadable {', '.join(unreadable)}")
            return path
        if not problems and os.path.exists(run_config_path(self.restore_directory or self.directory)):
            log(f"{self.restore_directory or self.directory} holds {RUN_CONFIG_FILE} but no checkpoint (the run "
                "there stopped before its first one): starting from step 0")
        if problems:
            raise CheckpointError(f"no readable checkpoint in {self.restore_directory or self.directory}: "
                                  f"{'; '.join(problems)}. Move the directory away to start from scratch")
        return None

    def _restore_without_replayable(self, path, error, log) -> bool:
        """Restores everything but REPLAYABLE from `path`, whose copy of those failed to restore (a
        checkpoint of an older input pipeline); sets `unrestored`. False when that fails too."""
        replayable = tuple(name for name in REPLAYABLE if name in self.trackables)
        if not replayable:
            return False
        kept = {name: value for name, value in self.trackables.items() if name not in replayable}
        try:
            tf.train.Checkpoint(**kept).restore(path).expect_partial().assert_existing_objects_matched()
        except _UNREADABLE + (ValueError, AssertionError):
            return False
        self.unrestored = replayable
        log(f"Checkpoint {path}: its {', '.join(replayable)} does not fit this version's input pipeline "
            f"({_first_line(error)}); everything else is restored, and the input is replayed instead")
        return True

    def forget(self, *names):
        """Stops saving the objects under `names` (e.g. an input iterator the run replaced)."""
        self.trackables = {name: value for name, value in self.trackables.items() if name not in names}
        self.checkpoint = tf.train.Checkpoint(**self.trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=self.max_to_keep)

    def save(self, step: int) -> str:
        """Writes a checkpoint numbered `step` and deletes the oldest beyond `max_to_keep`.

        Raises:
          NonFiniteWeightsError: naming a variable that holds NaN or Inf; nothing is written.
          StorageError: when the disk refuses the write (full, read-only); the partial files of
            this save are removed and the earlier checkpoints stay.
        """
        bad = self.first_non_finite_variable()
        if bad is not None:
            raise NonFiniteWeightsError(bad, step)
        try:
            return self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as error:
            problem = storage_error(os.path.join(self.directory, f"{PREFIX}-{step}"), error)
            if problem is None:
                raise
            removed = remove_partial_save(self.directory, step, PREFIX, STATE_FILE)
            kept = f"; the newest whole checkpoint, {self.latest_path}, is kept" if self.latest_path else ""
            raise StorageError(f"{problem}{kept}" + (f" (removed the partial {', '.join(removed)})"
                                                     if removed else "")) from None

    def first_non_finite_variable(self) -> str | None:
        """The name of the first floating-point variable with a NaN or Inf value, or None."""
        for trackable in tf.train.TrackableView(self.checkpoint).descendants():
            if isinstance(trackable, keras.Variable):
                name, value = trackable.path, trackable.value
            elif isinstance(trackable, tf.Variable):
                name, value = trackable.name, trackable
            else:
                continue
            if value.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(value))):
                return name
        return None

    def _check_variable_lists(self, path):
        _check_variable_lists(path, self.trackables)


def restore_objects(path, **trackables):
    """Restores some of what a run saved (e.g. only `model` and `model_variables`) from the
    checkpoint `path`, writing nothing: what an evaluation job needs.

    Raises:
      CheckpointError: naming `path` when it is missing or unreadable, or does not fit these
        objects (another model, other shapes).
    """
    try:
        _check_variable_lists(path, trackables)
        tf.train.Checkpoint(**trackables).read(path).assert_existing_objects_matched().expect_partial()
    except _UNREADABLE as error:
        raise CheckpointError(f"checkpoint {path} cannot be read: {_first_line(error)}") from None
    except (ValueError, AssertionError) as error:
        raise CheckpointError(f"checkpoint {path} does not fit this run: {_first_line(error)}") from None


def _check_variable_lists(path, trackables):
    """Compares each list of variables with the checkpoint's, position by position.

    TensorFlow matches list elements by position only, so a checkpoint of another model
    fails late with an anonymous shape error, or not at all when the shapes happen to agree
    in number; this names the variable instead. The saved list is read from the checkpoint's
    object graph, not from key names: a variable also reachable by a shorter path (a weight
    a model owns directly, every weight of a bare layer) is stored once under that path, so
    its list position has no key of its own.
    """
    reader = tf.train.load_checkpoint(path)
    saved_lists = _saved_lists(reader)
    for name, value in trackables.items():
        if not isinstance(value, (list, tuple)):
            continue
        saved = saved_lists.get(name, [])
        if len(saved) != len(value):
            raise ValueError(f"it holds {len(saved)} {name}, this run has {len(value)} "
                             "(a different model or architecture)")
        for index, (variable, saved_shape) in enumerate(zip(value, saved)):
            if tuple(variable.shape) != tuple(saved_shape):
                label = getattr(variable, "path", None) or variable.name
                raise ValueError(f"{name}[{index}] ({label}) has shape {tuple(variable.shape)} here "
                                 f"but {tuple(saved_shape)} in the checkpoint (a different model or "
                                 "layer sizes)")


def _saved_lists(reader) -> dict:
    """{name: [shape per element]} of every list of variables the checkpoint's root holds.

    The object graph (a TrackableObjectGraph proto, the checkpoint format's own record of what
    was saved) lists the root's children; a list's children are named "0", "1", ... and each is
    a node whose VARIABLE_VALUE attribute gives the key its tensor was stored under.
    """
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(_OBJECT_GRAPH_KEY))
    shapes = reader.get_variable_to_shape_map()
    lists = {}
    for child in graph.nodes[0].children:
        elements = {element.local_name: element.node_id for element in graph.nodes[child.node_id].children}
        if not elements or not all(name.isdigit() for name in elements):
            continue  # Not a list.
        keys = []
        for index in range(len(elements)):
            node = graph.nodes[elements.get(str(index), 0)]
            keys.append(next((attribute.checkpoint_key for attribute in node.attributes
                              if attribute.name == "VARIABLE_VALUE"), None))
        lists[child.local_name] = [shapes.get(key) for key in keys]
    return lists


def checkpoint_candidates(directory) -> list:
    """Checkpoint prefixes in `directory`, newest (highest number) first: those the state file
    lists and those whose index file is on disk, so a lost state file cannot hide a run."""
    indexes = glob.glob(os.path.join(directory, f"{PREFIX}-*.index"))
    found = {path[: -len(".index")] for path in indexes}
    numbered = [path for path in _listed_checkpoints(directory) | found
                if re.fullmatch(rf"{PREFIX}-\d+", os.path.basename(path))]
    return sorted(numbered, key=lambda path: int(path.rsplit("-", 1)[1]), reverse=True)


def saved_names(directory) -> set | None:
    """The names of the trackables the newest checkpoint with a readable index saved (e.g.
    {"model", "optimizer", "train_iterator"}), or None when `directory` holds none."""
    for path in checkpoint_candidates(directory):
        try:
            variables = tf.train.list_variables(path)
        except _UNREADABLE:
            continue
        return {name.split("/")[0] for name, _ in variables}
    return None


def _listed_checkpoints(directory) -> set:
    """The checkpoint prefixes a directory's state file lists; none when it is absent or unreadable."""
    try:
        state = tf.train.get_checkpoint_state(directory)
    except ValueError:  # A state file without a newest checkpoint.
        return set()
    if state is None:
        return set()
    return set(state.all_model_checkpoint_paths) | ({state.model_checkpoint_path} - {""})


def has_checkpoint_files(directory) -> bool:
    """Whether `directory` holds a checkpoint state file or any checkpoint index."""
    return os.path.exists(os.path.join(directory, STATE_FILE)) or bool(
        glob.glob(os.path.join(directory, f"{PREFIX}-*.index")))


def _first_line(error) -> str:
    """The gist of a TensorFlow error: its first line without the op-name wrapping."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]$", "", text.strip().splitlines()[0])
    return text[:300]
