"""The one RGB reader: RGB order, OpenCV's decoding (as training), errors naming the file."""
import cv2
import numpy as np
import pytest
from PIL import Image

from advcam_mm.fileio.images import read_rgb


def test_rgb_order_and_the_training_decoder(tmp_path):
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 0] = 250  # red
    image[1, 2] = (10, 200, 30)
    Image.fromarray(image).save(tmp_path / 'x.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'x.png')), image)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / 'y.jpg', quality=80)
    decoded = cv2.cvtColor(cv2.imread(str(tmp_path / 'y.jpg')), cv2.COLOR_BGR2RGB)  # what LoadImageFromFile sees
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'y.jpg')), decoded)


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='none.jpg: image not found'):
        read_rgb(str(tmp_path / 'none.jpg'))
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    with pytest.raises(ValueError, match='bad.jpg: unreadable or corrupt image'):
        read_rgb(str(tmp_path / 'bad.jpg'))
