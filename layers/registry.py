"""Models by name, or by an import path `package.module:ClassName` for a user's own model.

Every model is constructed as `ModelClass(num_classes=...)` and maps its inputs to float32 logits:
images [B, H, W, C], except `transformer_classifier`, which takes integer token ids [B, T].
"""

import functools
import importlib

from layers.models import (MLP, VGG16, CifarResNet, DecoderOnlyTransformer, ResNet50, SmallCNN,
                           TransformerClassifier, VisionTransformer)

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


# Language models by size (weight counts at vocab_size=256, max_length=256), constructed as `ModelClass(vocab_size=..., max_length=..., remat=...)`;
# each maps token ids [B, T] to float32 logits [B, T, vocab_size].
LANGUAGE_MODELS = {
    "lm_tiny": functools.partial(DecoderOnlyTransformer, width=64, depth=2, num_heads=4),  # 0.15 M weights
    "lm_small": functools.partial(DecoderOnlyTransformer, width=128, depth=4, num_heads=4),  # 0.89 M
    "lm_medium": functools.partial(DecoderOnlyTransformer, width=256, depth=6, num_heads=8),  # 4.9 M
    "lm_large": functools.partial(DecoderOnlyTransformer, width=512, depth=8, num_heads=8),  # 25.6 M
}


def resolve_model_class(name: str, registry=None):
    """Returns the constructor registered as `name` in `registry` (default MODELS), or imported
    from `module:Class`.

    Raises:
      ValueError: naming the model when it is unknown, its module cannot be imported or the
        module has no such attribute.
    """
    registry = MODELS if registry is None else registry
    if ":" not in name:
        if name not in registry:
            raise ValueError(
                f"unknown model {name!r}; expected one of {', '.join(sorted(registry))} or an import path module:Class"
            )
        return registry[name]
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
