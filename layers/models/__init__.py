"""Whole models: each maps its inputs (images [B, H, W, C], or token ids [B, T] for
TransformerClassifier) to float32 logits [B, num_classes]; DecoderOnlyTransformer maps token ids
[B, T] to next-token logits [B, T, vocab_size]."""

from layers.models.decoder_only_transformer import DecoderOnlyTransformer
from layers.models.mlp import MLP
from layers.models.resnet50 import ResNet50
from layers.models.resnet_cifar import CifarResNet
from layers.models.small_cnn import SmallCNN
from layers.models.transformer_classifier import TransformerClassifier
from layers.models.vgg16 import VGG16
from layers.models.vit import VisionTransformer

__all__ = ["MLP", "CifarResNet", "DecoderOnlyTransformer", "ResNet50", "SmallCNN", "TransformerClassifier", "VGG16",
           "VisionTransformer"]
