"""The `build` check: every variable exists once the layer is built, none is created by call()."""

from layers.conformance.errors import CheckFailed, describe_exception
from layers.conformance.subject import variable_name


def check_build(subject):
    """Builds the layer, calls it again, and requires the same variables before and after.

    Keras 3 refuses `add_weight` in `call()` once a layer is built; a layer that creates
    `tf.Variable`s there itself gets a new, untrained variable per call and fails under
    `tf.function`. Both show up here, before the other checks run.
    """
    first = subject.factory()
    if subject.factory() is first:
        raise CheckFailed("layer_factory returned the same instance twice; it must construct a new layer "
                          "per call")
    try:
        layer = subject.shared()
    except CheckFailed:
        raise
    except Exception as error:  # The layer's own error, reported with its type and first line.
        raise CheckFailed(f"building the layer with one call raised {describe_exception(error)}; "
                          "create every weight with add_weight() in build()") from error
    before = {id(variable): variable_name(variable) for variable in layer.variables}
    layer(subject.inputs(offset=1), training=False)
    added = [variable_name(variable) for variable in layer.variables if id(variable) not in before]
    if added:
        raise CheckFailed(f"a second call created variables {added}; create weights in build(), not call()")
    if not layer.built:
        raise CheckFailed("the layer is not marked built after a call; call super().build() or set "
                          "self.built")
    return f"{len(before)} variable(s) after the first call, none added by a second"
