"""Whole models: each maps its inputs (images [B, H, W, C], or token ids [B, T] for
TransformerClassifier) to float32 logits [B, num_classes]."""

from layers.models.mlp import MLP
from layers.models.resnet_cifar import CifarResNet
from layers.models.small_cnn import SmallCNN
from layers.models.transformer_classifier import TransformerClassifier
from layers.models.vit import VisionTransformer

__all__ = ["MLP", "CifarResNet", "SmallCNN", "TransformerClassifier", "VisionTransformer"]
