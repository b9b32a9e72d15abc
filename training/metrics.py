"""Running loss and accuracy, accumulated inside the compiled loop and read at its boundaries."""

import keras


class ClassificationMetrics:
    """Mean loss and top-1 accuracy over the batches seen since the last `reset`.

    Create it under the strategy's scope so the accumulators are reduced across replicas.
    """

    def __init__(self, prefix):
        self.loss = keras.metrics.Mean(name=f"{prefix}_loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name=f"{prefix}_accuracy")

    def update(self, loss, labels, logits):
        """Adds a batch: `loss` is its mean (a scalar) or its per-example losses [B], which weight
        every example equally whatever the batch sizes (an empty batch adds nothing)."""
        self.loss.update_state(loss)
        self.accuracy.update_state(labels, logits)

    def reset(self):
        self.loss.reset_state()
        self.accuracy.reset_state()

    def results(self) -> dict:
        """Host floats; reading them waits for the device, so call it at loop boundaries only."""
        return {"loss": float(self.loss.result()), "accuracy": float(self.accuracy.result())}
