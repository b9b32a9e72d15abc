"""Whole models: each maps images [B, H, W, C] to float32 logits [B, num_classes]."""

from layers.models.mlp import MLP
from layers.models.resnet_cifar import CifarResNet
from layers.models.small_cnn import SmallCNN

__all__ = ["MLP", "CifarResNet", "SmallCNN"]
