"""Model-agnostic pieces every training run needs: devices, precision, distribution,
checkpoints, summaries and input pipelines. `core` imports nothing from `layers` or `training`."""
