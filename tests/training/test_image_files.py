"""Image files: headers read before decoding (a small PNG declaring 15000x15000 pixels is refused in
one line), and one decoder for training and prediction (a CMYK JPEG training takes, predict takes)."""

import struct
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from core.data import DatasetError
from core.data.image_files import declared_pixels
from core.data.image_folder import decode_images
from training.export import export_saved_model
from training.tasks.image_serving_signatures import image_classifier_signatures
from training.tasks.exported_classifier import PredictError, predict_files, read_image

CLASS_NAMES = ("a", "b", "c")


def _export(model_dir, channels):
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
    model(tf.zeros((1, 8, 8, channels)))
    signatures = image_classifier_signatures(model, (8, 8, channels), CLASS_NAMES)
    export_saved_model(model, str(model_dir / "export"), signatures)
    return model


def _pixels(height=20, width=30):
    return np.random.RandomState(0).randint(0, 256, (height, width, 3)).astype(np.uint8)


def _png_declaring(path, width, height):
    """A real 2x2 PNG whose header (IHDR, with a correct CRC) claims another size."""
    tf.io.write_file(str(path), tf.io.encode_png(_pixels(2, 2)))
    data = bytearray(open(path, "rb").read())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def test_headers_give_the_size_without_decoding(tmp_path):
    pixels = _pixels(20, 30)
    tf.io.write_file(str(tmp_path / "a.png"), tf.io.encode_png(pixels))
    tf.io.write_file(str(tmp_path / "a.jpg"), tf.io.encode_jpeg(pixels, progressive=True))
    image = Image.fromarray(pixels)
    image.save(tmp_path / "a.gif")
    image.save(tmp_path / "a.bmp")
    image.convert("CMYK").save(tmp_path / "cmyk.jpg", exif=b"Exif\0\0" + b"\0" * 2000)  # A segment to skip.
    for name in ("a.png", "a.jpg", "a.gif", "a.bmp", "cmyk.jpg"):
        assert declared_pixels(tmp_path / name) == (30, 20), name
    (tmp_path / "notes.txt").write_text("hello")
    assert declared_pixels(tmp_path / "notes.txt") is None


def test_a_small_png_declaring_225_megapixels_is_refused_before_decoding(tmp_path):
    _export(tmp_path, 3)
    _png_declaring(tmp_path / "bomb.png", 15000, 15000)
    assert (tmp_path / "bomb.png").stat().st_size < 200
    with pytest.raises(PredictError) as error:
        predict_files(str(tmp_path), [str(tmp_path / "bomb.png")])
    assert str(error.value) == (f"{tmp_path / 'bomb.png'}: declares 15000x15000 pixels (225.0 megapixels), more "
                                "than the limit of 100000000 pixels (--max_image_pixels); raise the flag to "
                                "classify it")
    tf.io.write_file(str(tmp_path / "small.png"), tf.io.encode_png(_pixels(20, 30)))
    with pytest.raises(PredictError, match=r"declares 30x20 pixels \(0.0 megapixels\), more than the limit of 599 "):
        predict_files(str(tmp_path), [str(tmp_path / "small.png")], max_pixels=599)
    assert len(predict_files(str(tmp_path), [str(tmp_path / "small.png")], max_pixels=600)) == 1
    with pytest.raises(DatasetError, match=r"bomb.png: declares 15000x15000 pixels .* shrink it or leave it out$"):
        decode_images([str(tmp_path / "bomb.png"), str(tmp_path / "small.png")], 8)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_cmyk_jpeg_training_accepts_is_one_prediction_accepts(tmp_path, channels):
    pixels = _pixels(8, 8)
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100, subsampling=0)
    trained_on = decode_images([str(tmp_path / "cmyk.jpg")], 8)[0]  # What image_folder feeds training.
    assert np.abs(trained_on.astype(int) - pixels).mean() < 20  # JPEG loss on noise; inverted CMYK would be ~85 off.
    model = _export(tmp_path, channels)
    predicted = read_image(str(tmp_path / "cmyk.jpg"), (8, 8, channels))
    expected = trained_on / 255.0 if channels == 3 else tf.image.rgb_to_grayscale(trained_on) / 255
    np.testing.assert_allclose(predicted.numpy(), np.asarray(expected, np.float32), atol=1e-6)
    line, = predict_files(str(tmp_path), [str(tmp_path / "cmyk.jpg")], top_k=1)
    probabilities = tf.nn.softmax(model(predicted[tf.newaxis]))[0].numpy()
    best = int(np.argmax(probabilities))
    assert line == f"{tmp_path / 'cmyk.jpg'}: {CLASS_NAMES[best]} {probabilities[best]:.4f}"
