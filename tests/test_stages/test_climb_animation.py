"""The climbing GIF (tools/advcam_gif.py): one frame per step, its content, class names, any image file."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from advcam_mm.stages import climb_animation
from advcam_mm.stages.climb_animation import climb_frames, config_class_names, resolve_class
from advcam_mm.visualization import CAPTION_PIXELS, frame_size, save_gif
from conftest import TINY_CLASSIFIER_CONFIG
from test_core.cam_reference import tiny_net

MEAN, STD = (120.0, 110.0, 100.0), (60.0, 55.0, 50.0)


@pytest.fixture(scope='module')
def climber():
    net = tiny_net(dtype=torch.float32)
    torch.manual_seed(3)
    weight = torch.randn(3, 16)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    return net, weight, image


@pytest.mark.parametrize('scale,height', [(1.0, None), (0.5, 50)])
def test_one_frame_per_step_of_the_expected_size(climber, tmp_path, scale, height):
    net, weight, image = climber
    frames = climb_frames(net, weight, image, 1, MEAN, STD, steps=4, scale=scale, label='AdvCAM b', height=height)
    expected = frame_size(image.shape[:2], height)
    assert len(frames) == 4 and all(frame.size == expected for frame in frames)
    assert expected == ((120, 40 + CAPTION_PIXELS) if height is None else (150, 50 + CAPTION_PIXELS))
    path = str(tmp_path / 'climb.gif')
    save_gif(frames, path)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.size == expected and gif.info.get('loop') == 0
    first, last = np.asarray(frames[0]), np.asarray(frames[-1])
    picture_height, half = expected[1] - CAPTION_PIXELS, expected[0] // 2
    assert not np.array_equal(first[:picture_height, half:], last[:picture_height, half:])  # the map grew
    assert not np.array_equal(first[:picture_height, :half], last[:picture_height, :half])  # the image changed
    if height is None:  # frame 1 shows the unmodified image (x^0) on the left
        assert np.abs(first[:picture_height, :half].astype(int) - image).max() <= 1


def test_class_names_come_from_the_config_or_voc():
    assert config_class_names(Config.fromfile(TINY_CLASSIFIER_CONFIG)) == EMBEDDED_CLASSES
    voc = config_class_names(Config(dict(model=dict())))
    assert voc[0] == 'background' and voc[-1] == 'tvmonitor' and len(voc) == 21
    assert resolve_class('kite', EMBEDDED_CLASSES) == 1 and resolve_class('Snail', EMBEDDED_CLASSES) == 3
    for bad in ('dog', 'background'):
        with pytest.raises(ValueError, match='expected one of beetle, kite, lantern, snail'):
            resolve_class(bad, EMBEDDED_CLASSES)


def test_tool_animates_an_image_outside_the_dataset(trained_tiny_classifier, embedded_voc_root, tmp_path, capsys):
    config, checkpoint = trained_tiny_classifier
    # a non-square image that is not in the dataset: a crop of one, saved as PNG elsewhere
    with Image.open(f'{embedded_voc_root}/JPEGImages/train_0001.jpg') as source:
        outside = str(tmp_path / 'photo.png')
        source.crop((0, 20, 120, 100)).save(outside)
    out = str(tmp_path / 'anim.gif')
    climb_animation.main([config, checkpoint, '--image', outside, '--class', 'kite', '--out', out, '--steps', '4',
                          '--height', '80', '--device', 'cpu'])
    expected = frame_size((80, 120), 80)
    assert f'4 frames of {expected[0]}x{expected[1]}' in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 4 and gif.size == expected == (240, 80 + CAPTION_PIXELS)
    with pytest.raises(ValueError, match='unknown class'):
        climb_animation.main([config, checkpoint, '--image', outside, '--class', 'aeroplane', '--out', out])
