"""Pictures: heat-map and label colours, panel and frame sizes, Fig. 6 plots."""
import io

import numpy as np
import pytest
from PIL import Image

from advcam_mm.visualization import (CAPTION_PIXELS, climb_frame, colorize_labels, frame_size, heatmap_overlay,
                                     panel_grid, panel_size, plot_figure6, render_panel, save_gif, sweep_members)


def test_overlay_and_label_colours():
    image = np.full((4, 5, 3), 100, np.uint8)
    heat = np.zeros((4, 5))
    heat[0, 0] = 1.0
    np.testing.assert_array_equal(heatmap_overlay(image, heat, alpha=0.0), image)
    opaque = heatmap_overlay(image, heat, alpha=1.0)
    np.testing.assert_array_equal(opaque[0, 0], [128, 0, 0])  # jet(1): dark red
    np.testing.assert_array_equal(opaque[1, 1], [0, 0, 128])  # jet(0): dark blue
    labels = colorize_labels(np.array([[0, 1, 2, 255]]))
    np.testing.assert_array_equal(labels[0], [[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]])
    short = colorize_labels(np.array([[1, 7, 255]]), palette=[[0, 0, 0], [10, 20, 30]])  # others: VOC's colours
    np.testing.assert_array_equal(short[0], [[10, 20, 30], [128, 128, 128], [224, 224, 192]])
    with pytest.raises(ValueError, match='does not match the image'):
        heatmap_overlay(image, np.zeros((5, 4)))


def test_panel_grid_and_size():
    assert panel_grid(0, 1) == (2, 3) and panel_grid(3, 2) == (3, 5) and panel_grid(1, 2, num_labels=3) == (3, 4)
    assert panel_size(3, 5) == (1100, 705) and panel_size(2, 4) == (880, 485)


def test_rendered_panel_has_its_grid_size_and_colours():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    seed = np.zeros((32, 40), np.int64)
    seed[8:24, 10:30] = 3
    source = dict(name='AdvCAM', keys=np.array([2, 4]), high_res=rng.random((2, 32, 40)), threshold=0.25, seed=seed,
                  crf=seed)
    data = render_panel(image, [source], ['background', 'a', 'b', 'c', 'd', 'e'], labels=[('ground truth', seed)],
                        image_id='x')
    with Image.open(io.BytesIO(data)) as panel:
        assert panel.size == panel_size(*panel_grid(2, 1, 1)) == (880, 485)
        pixels = np.asarray(panel.convert('RGB')).reshape(-1, 3)
    assert (pixels == colorize_labels(np.array([3]))[0]).all(1).sum() > 1000  # class 3 in ground truth, seeds


def test_frames_and_gif(tmp_path):
    assert frame_size((40, 60), None) == (120, 40 + CAPTION_PIXELS)
    assert frame_size((40, 60), 80) == (240, 80 + CAPTION_PIXELS)
    manipulated = np.zeros((40, 60, 3), np.uint8)
    overlay = np.full((40, 60, 3), 255, np.uint8)
    frames = [climb_frame(manipulated, overlay, f't = {t}', 240, 80 + CAPTION_PIXELS) for t in (1, 2)]
    first = np.asarray(frames[0])
    assert frames[0].size == (240, 102)
    assert first[:80, :120].max() == 0 and first[:80, 120:].min() == 255  # image left, map right
    assert (first[80:] < 128).any()  # the caption's text
    save_gif(frames, str(tmp_path / 'a.gif'))
    with Image.open(tmp_path / 'a.gif') as gif:
        assert gif.n_frames == 2 and gif.info.get('loop') == 0
    with pytest.raises(ValueError, match='no frames to write'):
        save_gif([], str(tmp_path / 'b.gif'))


def test_figure6_plots(tmp_path):
    base = dict(mask_coef=7.0, mask_thresh=0.5, step_size=0.08)
    settings = [base, dict(base, mask_coef=0.0), dict(base, mask_thresh=0.3)]
    assert sweep_members(settings, base, 'mask_coef') == [1, 0] and sweep_members(settings, base, 'mask_thresh') == [
        2, 0]
    assert sweep_members(settings, base, 'step_size') == [0]
    result = dict(settings=settings, steps=3, miou=np.full((3, 3), 0.5), noise=np.full((3, 3), 0.1),
                  noise_threshold=0.15, num_images=2)
    paths = plot_figure6(result, str(tmp_path))
    assert [p.rsplit('/', 1)[1] for p in paths] == ['fig6ab.png', 'fig6cde.png']
    sizes = [Image.open(p).size for p in paths]
    assert sizes == [(1100, 420), (920, 420)]  # Fig. 6a/b; c and d (lambda and tau swept), e left out
    assert plot_figure6(dict(result, settings=settings[:1], miou=result['miou'][:1], noise=result['noise'][:1]),
                        str(tmp_path / 'one')) == [str(tmp_path / 'one' / 'fig6ab.png')]
