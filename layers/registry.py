"""Models by name, or by an import path `package.module:ClassName` for a user's own model.

Every model is constructed as `ModelClass(num_classes=...)` and maps its inputs to float32 logits:
images [B, H, W, C], except `transformer_classifier`, which takes integer token ids [B, T].
"""

import functools
import importlib

from layers.models import (MLP, VGG16, CifarResNet, ResNet50, SmallCNN, TransformerClassifier,
                           VisionTransformer)

MODELS = {
    "mlp": MLP,
    "small_cnn": SmallCNN,
    "resnet20": functools.partial(CifarResNet, depth=20),
    "resnet56": functools.partial(CifarResNet, depth=56),
    "vit_tiny": VisionTransformer,
    "transformer_classifier": TransformerClassifier,
    # ImageNet architectures with the transfer head; they take keras.applications weight files.
    "vgg16": VGG16,
    "resnet50": ResNet50,
}


def resolve_model_class(name: str):
    """Returns the constructor registered as `name`, or imported from `module:Class`.

    Raises:
      ValueError: naming the model when it is unknown, its module cannot be imported or the
        module has no such attribute.
    """
    if ":" not in name:
        if name not in MODELS:
            raise ValueError(
                f"unknown model {name!r}; expected one of {', '.join(sorted(MODELS))} or an import path module:Class"
            )
        return MODELS[name]
    module_name, _, class_name = name.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"model import path {name!r} must look like package.module:ClassName")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"model {name!r}: cannot import module {module_name!r} ({error})") from None
    if not hasattr(module, class_name):
        raise ValueError(f"model {name!r}: module {module_name!r} has no attribute {class_name!r}")
    return getattr(module, class_name)


def create_model(name: str, num_classes: int):
    """Builds the model called `name` (see `resolve_model_class`) for `num_classes` labels."""
    return resolve_model_class(name)(num_classes=num_classes)
