"""Inputs of class-map generation: decoded as RGB, normalised, the same through DataLoader workers."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

import advcam_mm  # noqa: F401  (registers the components)
from advcam_mm.datasets.class_map_inputs import (ClassMapInput, ClassMapInputs, class_map_loader,
                                                 class_map_samples)
from advcam_mm.datasets.embedded_dataset import EMBEDDED_CLASSES
from mmseg.registry import DATASETS

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _write_images(folder, sizes):
    rng = np.random.default_rng(0)
    samples = []
    for i, (height, width) in enumerate(sizes):
        path = osp.join(folder, f'img_{i}.png')
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        samples.append((f'img_{i}', path, [i % 4, (i + 2) % 4][:i % 3]))
    return samples


def test_known_pixels_are_normalised_in_rgb_order(tmp_path):
    rgb = np.zeros((3, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 100, 200
    rgb[1, 2] = (255, 0, 7)
    Image.fromarray(rgb).save(tmp_path / 'a.png')
    item = ClassMapInputs([('a', str(tmp_path / 'a.png'), [3, 1])], MEAN, STD)[0]
    assert isinstance(item, ClassMapInput) and item.image_id == 'a' and item.size == (3, 5)
    assert item.image.dtype == torch.float32 and item.image.shape == (3, 3, 5)
    assert item.class_ids.dtype == torch.int64 and item.class_ids.tolist() == [3, 1]
    expected = (torch.tensor(rgb, dtype=torch.float32).permute(2, 0, 1) - torch.tensor(MEAN)[:, None, None]) \
        / torch.tensor(STD)[:, None, None]
    torch.testing.assert_close(item.image, expected, rtol=0, atol=0)
    assert item.image[0, 1, 2] == pytest.approx((255 - MEAN[0]) / STD[0])


def test_workers_give_the_same_items_in_the_same_order(tmp_path):
    sizes = [(20, 30), (30, 20), (20, 30), (16, 16), (30, 20), (20, 30), (25, 17)]
    inputs = ClassMapInputs(_write_images(str(tmp_path), sizes), MEAN, STD)
    in_process = [inputs[i] for i in range(len(inputs))]
    with_workers = list(class_map_loader(inputs, num_workers=2, pin_memory=True, prefetch_factor=2))
    assert [item.image_id for item in with_workers] == [f'img_{i}' for i in range(len(sizes))]
    assert [item.size for item in with_workers] == sizes
    for a, b in zip(in_process, with_workers):
        assert isinstance(b, ClassMapInput)
        torch.testing.assert_close(a.image, b.image, rtol=0, atol=0)
        assert a.class_ids.tolist() == b.class_ids.tolist()


def test_a_missing_or_corrupt_image_is_named(tmp_path):
    samples = _write_images(str(tmp_path), [(8, 8)])
    missing = samples + [('gone', str(tmp_path / 'gone.jpg'), [0])]
    with pytest.raises(FileNotFoundError, match='gone.jpg: image not found'):
        list(class_map_loader(ClassMapInputs(missing, MEAN, STD), num_workers=1))  # raised through a worker
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='broken.jpg: unreadable or corrupt image'):
        ClassMapInputs([('broken', str(tmp_path / 'broken.jpg'), [0])], MEAN, STD)[0]
    with pytest.raises(ValueError, match='sample 0 must be'):
        ClassMapInputs([('only-an-id', str(tmp_path / 'img_0.png'))], MEAN, STD)


def test_samples_from_the_classification_dataset(embedded_voc_root):
    dataset = DATASETS.build(dict(type='VOCClassificationDataset', data_root=embedded_voc_root,
                                  metainfo=dict(classes=EMBEDDED_CLASSES)))
    samples = class_map_samples(dataset, [3, 0])
    assert [s[0] for s in samples] == ['train_0003', 'train_0000']
    for (image_id, path, class_ids), index in zip(samples, [3, 0]):
        assert path == osp.join(embedded_voc_root, 'JPEGImages', f'{image_id}.jpg')
        np.testing.assert_array_equal(class_ids, np.flatnonzero(dataset.class_labels[index] > 0))
    item = ClassMapInputs(samples, MEAN, STD)[0]
    assert item.size == (128, 128) and item.image.shape == (3, 128, 128)


def test_loader_stream_and_writer_write_the_files_of_per_image_generation(tmp_path):
    """The generation loop the stage runs: workers decode, equal sizes climb together, a thread writes.

    Files equal those of one ``advcam_maps`` per image, whether one process does all images or two
    "ranks" split them (``ids[rank::2]``, other groups).
    """
    from advcam_mm.core.advcam import advcam_maps, advcam_maps_stream
    from advcam_mm.fileio.background_writer import BackgroundWriter
    from advcam_mm.fileio.cam_files import cam_file_path, load_cam_file, save_cam_file
    from test_core.cam_reference import tiny_net

    net = tiny_net(dtype=torch.float32)
    torch.manual_seed(0)
    weight = torch.randn(4, 16)
    settings = dict(scales=(1.0, 0.5), steps=3, max_batch=6)
    sizes = [(20, 30), (30, 20), (20, 30), (16, 16), (30, 20), (20, 30), (20, 30)]
    samples = _write_images(str(tmp_path), sizes)
    inputs = ClassMapInputs(samples, MEAN, STD)
    for i in range(len(inputs)):
        item = inputs[i]
        maps = advcam_maps(net, weight, item.image, item.class_ids, **settings)
        save_cam_file(cam_file_path(str(tmp_path / 'per_image'), item.image_id), maps['keys'], maps['strided'],
                      maps['high_res'])
    for name, shares in (('one', [samples]), ('two', [samples[0::2], samples[1::2]])):
        for share in shares:
            loader = class_map_loader(ClassMapInputs(share, MEAN, STD), num_workers=1, prefetch_factor=2)
            with BackgroundWriter(max_pending=2) as writer:
                for sample, maps in advcam_maps_stream(net, weight, loader, lookahead=3, max_group=2, **settings):
                    writer.submit(save_cam_file, cam_file_path(str(tmp_path / name), sample.image_id),
                                  maps['keys'], maps['strided'], maps['high_res'])
        for image_id, _, _ in samples:
            expected = load_cam_file(cam_file_path(str(tmp_path / 'per_image'), image_id))
            got = load_cam_file(cam_file_path(str(tmp_path / name), image_id))
            np.testing.assert_array_equal(got['keys'], expected['keys'])
            np.testing.assert_allclose(got['high_res'], expected['high_res'], atol=1e-3)
            np.testing.assert_allclose(got['cam'], expected['cam'], atol=1e-3)
