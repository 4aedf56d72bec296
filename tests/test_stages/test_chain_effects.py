"""Tests of effect (issue 12): on small cases cut from the embedded miniature, each refinement stage does its job.

* the dense CRF moves a blurred seed boundary towards the object's edge;
* the IR labels of a typical image (CAM of the trained tiny classifier) mark
  confident foreground inside the object and confident background outside it;
* IRN's random walk, over the boundary map of an IRNet trained briefly on
  confident labels, enlarges a seed inside its object and stops at the
  object's boundary (without the learned boundary the same walk leaks).

Real components throughout: pydensecrf, the core functions, an IRNet trained
by ``tools/train.py`` (mmengine's Runner) with the embedded config.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from advcam_mm.core.cam import multiscale_cam
from advcam_mm.core.image_tensor import normalise_image
from advcam_mm.core.ir_label import inter_pixel_relation_label
from advcam_mm.core.random_walk import refine_with_random_walk
from advcam_mm.core.seeds import seed_with_crf
from advcam_mm.datasets.embedded_dataset import render_scene
from advcam_mm.stages.runner import load_config
from advcam_mm.stages.settings import config_settings, seed_crf_settings
from conftest import REPO_ROOT, run_tool

IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r18-w16_100ep_embedded.py')
SIZE = 128


def _irn_settings():
    """The embedded IRNet config's IR-label, CRF and random-walk settings (the ones the stages use)."""
    from advcam_mm.stages.ir_labels import ir_label_settings
    from advcam_mm.stages.pseudo_masks import RANDOM_WALK_KEYS
    cfg = load_config(IRN_CONFIG)
    return cfg, ir_label_settings(cfg), seed_crf_settings(cfg), config_settings(cfg, 'random_walk', RANDOM_WALK_KEYS)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _largest_object(scene, min_area=700, inside=False):
    """The visible mask and category of the scene's largest visible object (clear of the border if
    ``inside``), or None."""
    best = None
    for instance in scene['instances']:
        visible = instance['mask'] & (scene['label'] == instance['category'])
        if inside and (visible[[0, -1]].any() or visible[:, [0, -1]].any()):
            continue
        if visible.sum() >= min_area and (best is None or visible.sum() > best[0].sum()):
            best = (visible, instance['category'])
    return best


def _cases(seed, count, min_area=700, inside=False):
    """``count`` scenes of the miniature, each with its largest (visible) object."""
    cases = []
    index = 0
    while len(cases) < count:
        scene = render_scene(np.random.default_rng([seed, 9, index]), SIZE)
        index += 1
        found = _largest_object(scene, min_area, inside)
        if found is not None:
            cases.append((scene, *found))
    return cases


def _edge_distance(mask, reference):
    """Mean distance (px) from the boundary pixels of ``mask`` to the boundary of ``reference``."""
    edge = cv2.morphologyEx(reference.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    distance = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 3)
    own = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    return float(distance[own].mean())


def test_crf_moves_a_blurred_seed_boundary_towards_the_object_edge():
    """A seed cut from a blurred object map overshoots the edge by ~4 px; IRN's CRF (the embedded
    config's lengths) pulls it back."""
    _, _, crf, _ = _irn_settings()
    before_iou, after_iou, before_distance, after_distance = [], [], [], []
    for scene, visible, category in _cases(seed=21, count=6):
        blurred = cv2.GaussianBlur(visible.astype(np.float32), (0, 0), 5)
        high_res = (blurred / blurred.max())[None]
        keys = np.array([category - 1])
        seed = high_res[0] > 0.2
        refined = seed_with_crf(scene['image'], high_res, keys, bg_threshold=0.2, **crf) == category
        before_iou.append(_iou(seed, visible))
        after_iou.append(_iou(refined, visible))
        before_distance.append(_edge_distance(seed, visible))
        after_distance.append(_edge_distance(refined, visible))
    # the CRF may join a neighbour of the same colour (one case here), so: most cases and the median
    assert np.mean(after_iou) > np.mean(before_iou) + 0.05, (before_iou, after_iou)
    assert sum(a < b for a, b in zip(after_distance, before_distance)) >= 5, (before_distance, after_distance)
    assert np.median(after_distance) < 0.5 * np.median(before_distance), (before_distance, after_distance)


def test_ir_labels_of_typical_images_mark_confident_foreground_inside_the_object(embedded_voc_root,
                                                                                  trained_tiny_classifier):
    """IR labels (AdvCAM's 0.35 / 0.15 + IRN's CRF) from the CAMs of the tiny classifier, on the
    single-class images among the first 20 of `train`: confident foreground lies inside the object
    and covers much of it; confident background lies outside and leaves the object alone."""
    from advcam_mm.stages.class_maps import label_generation_settings
    from advcam_mm.stages.models import build_cam_model
    config, checkpoint = trained_tiny_classifier
    cfg = load_config(config)
    model = build_cam_model(cfg, checkpoint)
    settings = label_generation_settings(cfg, method='cam')
    _, ir_labels, crf, _ = _irn_settings()
    preprocessor = cfg.model.data_preprocessor
    labels = np.load(osp.join(embedded_voc_root, 'cls_labels.npy'), allow_pickle=True).item()
    with open(osp.join(embedded_voc_root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = [line.strip() for line in f if line.strip()][:20]
    precision, cover, object_as_background, background_as_background = [], [], [], []
    for image_id in ids:
        classes = np.flatnonzero(labels[image_id])
        if len(classes) != 1:
            continue
        image = np.array(Image.open(osp.join(embedded_voc_root, 'JPEGImages', image_id + '.jpg')))
        gt = np.array(Image.open(osp.join(embedded_voc_root, 'SegmentationClass', image_id + '.png')))
        with torch.no_grad():
            maps = multiscale_cam(model.cam_features, model.cam_weight.detach(),
                                  normalise_image(image, preprocessor['mean'], preprocessor['std']),
                                  torch.as_tensor(classes), scales=settings['scales'], flip=settings['flip'])
        label = inter_pixel_relation_label(image, maps['high_res'].numpy(), maps['keys'].numpy(), **ir_labels,
                                           crf=crf)
        target, background = gt == classes[0] + 1, gt == 0
        foreground = label == classes[0] + 1
        precision.append((foreground & target).sum() / max(foreground.sum(), 1))
        cover.append((foreground & target).sum() / target.sum())
        object_as_background.append(((label == 0) & target).sum() / target.sum())
        background_as_background.append(((label == 0) & background).sum() / background.sum())
    # medians measured here with generator version 3: precision 0.84, cover 0.60, object as background
    # 0.10, background as background 0.86 (the bounds leave room for another CPU's arithmetic)
    assert len(precision) >= 8
    assert np.median(precision) > 0.75, precision  # confident foreground is inside the object
    assert np.median(cover) > 0.4, cover  # ... and covers much of it
    assert np.median(object_as_background) < 0.2, object_as_background  # version 1 of the generator: ~0.5
    assert np.median(background_as_background) > 0.8, background_as_background


def _ground_truth_ir_label(label, margin=3):
    """IR label from a ground-truth map: confident where ``margin`` px from any label change, else unsure."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    stable = cv2.dilate(label, kernel) == cv2.erode(label, kernel)
    return np.where(stable, label, 255).astype(np.uint8)


@pytest.fixture(scope='module')
def irnet_trained_on_confident_labels(embedded_voc_root, trained_tiny_classifier, tmp_path_factory):
    """An IRNet (embedded config) trained briefly on confident labels of `train_aug`.

    The labels are IR labels as IRN mines them - confident foreground and
    background with an unsure band - but cut from the ground truth rather than
    from CAMs, so the test does not depend on the classifier's quality; the
    boundary is nevertheless *learned*: IRNet sees only pairs of confident
    pixels, never an edge map.
    """
    folder = str(tmp_path_factory.mktemp('gt_ir_labels'))
    with open(osp.join(embedded_voc_root, 'ImageSets', 'Segmentation', 'train_aug.txt')) as f:
        ids = [line.strip() for line in f if line.strip()]
    for image_id in ids:
        label = np.array(Image.open(osp.join(embedded_voc_root, 'SegmentationClassAug', image_id + '.png')))
        label = np.where(label == 255, 0, label).astype(np.uint8)
        Image.fromarray(_ground_truth_ir_label(label)).save(osp.join(folder, image_id + '.png'))
    work_dir = str(tmp_path_factory.mktemp('irnet'))
    _, classifier_checkpoint = trained_tiny_classifier
    # brief: 10 epochs x 20 steps of 8 crops of 128 px (~20 s), with momentum 0.9 and lr 0.5 so that
    # so few steps suffice (the embedded config takes 4,000 steps of 4 crops of 160 px at IRN's lr 0.1)
    epochs = 10
    run_tool(['tools/train.py', IRN_CONFIG, '--work-dir', work_dir, '--cfg-options',
              f'train_dataloader.dataset.data_root={embedded_voc_root}',
              f'train_dataloader.dataset.mask_dir={folder}',
              f'model.backbone.init_cfg.checkpoint={classifier_checkpoint}',
              'train_dataloader.batch_size=8', 'optim_wrapper.optimizer.lr=0.5', 'optim_wrapper.optimizer.momentum=0.9',
              'train_dataloader.dataset.pipeline.4.crop_size=128', 'model.data_preprocessor.size=[128,128]',
              f'train_cfg.max_epochs={epochs}', f'param_scheduler.0.end={epochs}',
              f'default_hooks.checkpoint.interval={epochs}'], num_threads=2)
    from advcam_mm.stages.models import build_irnet
    cfg, _, _, walk = _irn_settings()
    model = build_irnet(cfg, osp.join(work_dir, f'epoch_{epochs}.pth'))
    return model, cfg, walk


def _boundary(model, cfg, image):
    preprocessor = cfg.model.data_preprocessor
    with torch.no_grad():
        boundary, _ = model.boundary_and_displacement(
            normalise_image(image, preprocessor['mean'], preprocessor['std']))
    return boundary


def test_random_walk_enlarges_a_seed_and_stops_at_the_learned_boundary(irnet_trained_on_confident_labels):
    model, cfg, settings = irnet_trained_on_confident_labels
    seed_recall, walk_recall, walk_precision, free_precision = [], [], [], []
    for scene, visible, category in _cases(seed=33, count=6, min_area=900, inside=True):
        # a seed inside the object, a fifth of it or so: where the distance to its edge is in the top 40 %
        depth = cv2.distanceTransform(visible.astype(np.uint8), cv2.DIST_L2, 5)
        seed = depth > 0.6 * depth.max()
        strided = cv2.resize(seed.astype(np.float32), (SIZE // 4, SIZE // 4), interpolation=cv2.INTER_AREA)[None]
        keys = np.array([category - 1])
        boundary = _boundary(model, cfg, scene['image'])
        walked = refine_with_random_walk(torch.from_numpy(strided), keys, boundary, (SIZE, SIZE),
                                         **settings).numpy() == category
        free = refine_with_random_walk(torch.from_numpy(strided), keys, torch.zeros_like(boundary), (SIZE, SIZE),
                                       **settings).numpy() == category
        same_class = scene['label'] == category  # a touching object of the same class is no leak
        seed_recall.append((seed & visible).sum() / visible.sum())
        walk_recall.append((walked & visible).sum() / visible.sum())
        walk_precision.append((walked & same_class).sum() / max(walked.sum(), 1))
        free_precision.append((free & same_class).sum() / max(free.sum(), 1))
    assert np.mean(walk_recall) > np.mean(seed_recall) + 0.25, (seed_recall, walk_recall)
    assert np.mean(walk_precision) > 0.85, walk_precision
    assert np.mean(free_precision) < np.mean(walk_precision) - 0.1, (free_precision, walk_precision)
