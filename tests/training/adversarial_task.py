"""A task with its own step, two networks and two optimizers: a small GAN on 1-D data.

The generator maps noise [B, 4] to samples [B, 1]; the discriminator tells them from real samples
drawn from N(2, 0.5). The noise comes with the batch (seeded in tf.data), so a run is repeatable
and resumes exactly. Used by the task tests; not a model anyone needs.
"""

import keras
import numpy as np
import tensorflow as tf

from training import TaskDatasets

REAL_MEAN = 2.0


class GeneratorAndCritic(keras.Model):
    def __init__(self):
        super().__init__()
        self.generator = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                           keras.layers.Dense(1, dtype="float32")])
        self.discriminator = keras.Sequential([keras.layers.Dense(16, activation="relu"),
                                               keras.layers.Dense(1, dtype="float32")])

    def build(self, input_shape):
        self.generator.build(input_shape)
        self.discriminator.build((None, 1))

    def call(self, noise, training=False):
        return self.generator(noise, training=training)


def _logistic_loss(labels, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)[:, 0]


class TinyGan:
    def __init__(self, config):
        self.config = config
        rng = np.random.default_rng(1)
        self.real = rng.normal(REAL_MEAN, 0.5, (1024, 1)).astype("float32")
        self.noise = rng.normal(0.0, 1.0, (1024, 4)).astype("float32")

    def build_datasets(self):
        def train(batch_size):
            pairs = tf.data.Dataset.from_tensor_slices((self.real, self.noise))
            return pairs.shuffle(1024, seed=self.config.seed).repeat().batch(batch_size, drop_remainder=True)

        def held_out(batch_size):
            return tf.data.Dataset.from_tensor_slices((self.real[:256], self.noise[:256])).batch(batch_size)

        return TaskDatasets(train=train, validation=held_out, test=held_out, description="Data: N(2, 0.5)")

    def build_model(self):
        model = GeneratorAndCritic()
        model.build((None, 4))
        return model

    def build_optimizers(self, model, new_optimizer):
        return {"discriminator": new_optimizer(model.discriminator.trainable_variables),
                "generator": new_optimizer(model.generator.trainable_variables)}

    def compute_loss(self, model, batch, training):
        """The generator's loss, per example: how well its samples fool the discriminator."""
        _, noise = batch
        fake = model(noise, training=training)
        return _logistic_loss(tf.ones_like(fake), model.discriminator(fake, training=training)), fake

    def train_step(self, model, batch, step):
        real, noise = batch
        critic, generator = step.optimizers["discriminator"], step.optimizers["generator"]
        with tf.GradientTape() as tape:
            fake = model(noise, training=True)
            per_example = (_logistic_loss(tf.ones_like(real), model.discriminator(real, training=True))
                           + _logistic_loss(tf.zeros_like(fake), model.discriminator(fake, training=True)))
            scaled = step.scale_loss(step.average_loss(per_example), critic)
        variables = model.discriminator.trainable_variables
        step.apply_gradients(critic, tape.gradient(scaled, variables), variables)
        with tf.GradientTape() as tape:
            per_example_loss, fake = self.compute_loss(model, batch, training=True)
            loss = step.average_loss(per_example_loss)
            scaled = step.scale_loss(loss, generator)
        variables = model.generator.trainable_variables
        step.apply_gradients(generator, tape.gradient(scaled, variables), variables)
        step.update_metrics(batch, fake, per_example_loss, loss)

    def build_metrics(self):
        return {"sample_mean": keras.metrics.Mean()}

    def update_metrics(self, metrics, batch, fake):
        metrics["sample_mean"].update_state(fake)
