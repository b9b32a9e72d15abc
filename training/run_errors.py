"""The errors a user's input or a run's own trouble can cause, which the script prints as one line.

Each has a message that names the flag, file or step concerned and what to do; a traceback
would add nothing. Anything else (a bug, an exhausted device) keeps its traceback.
"""

from core.checkpointing import CheckpointError
from core.data import DatasetError
from core.run_config_store import RunConfigMismatch
from training.nan_policy import NonFiniteLossError

# DatasetError covers missing or corrupt dataset files and (InvalidSplitsError) unusable splits.
RUN_ERRORS = (CheckpointError, DatasetError, NonFiniteLossError, RunConfigMismatch)
