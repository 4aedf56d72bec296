"""The authors' checkpoints converted: same CAM and same boundary map as the authors' networks.

The authors' networks are the test port ``tests/helpers/irn_reference_nets.py``
(their module names, so ``state_dict()`` is their checkpoint layout), with
random weights and random BatchNorm/GroupNorm parameters and statistics.
"""
import os.path as osp

import numpy as np
import pytest
import torch

from advcam_mm.stages.models import build_inference_model
from advcam_mm.stages.runner import load_config
from advcam_mm.core.cam import class_maps
from advcam_mm.fileio import (AuthorsCheckpointError, convert_authors_state_dict, file_sha256,
                              read_state_dict, save_checkpoint)
from advcam_mm.fileio.authors_checkpoints import canonical_key
from conftest import REPO_ROOT, run_tool
from helpers.irn_reference_nets import CAMNet, IRNLossNet, randomize_

CAM_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'cam_r50_5ep_voc12aug.py')
IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py')
PAD_SIZE = 96  # IRN pads to its crop size (512); a small one keeps the test fast


def authors_irn_net(seed=1):
    """IRN's ``AffinityDisplacementLoss`` as saved in ``res50_irn.pth`` (small stand-in pair-index buffers)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    path_indices = [rng.integers(0, 100, size=(3, 4, 5)), rng.integers(0, 100, size=(2, 4, 5))]
    return randomize_(IRNLossNet(path_indices, search_dst=rng.integers(-5, 5, size=(12, 2))), seed)


@pytest.fixture(scope='module')
def authors_cam():
    torch.manual_seed(0)
    return randomize_(CAMNet(), seed=0)


@pytest.fixture(scope='module')
def authors_irn():
    return authors_irn_net()


def save_authors_checkpoint(net, path):
    """What IRN's ``train_cam.py`` / ``train_irn.py`` write: ``torch.save(model.module.state_dict())``."""
    torch.save(net.state_dict(), path)
    return str(path)


def convert_file(kind, src, dst):
    state_dict, _ = read_state_dict(src)
    conversion = convert_authors_state_dict(state_dict, kind, source=src)
    save_checkpoint(dst, conversion.state_dict, {'kind': kind})
    return conversion


def assert_close(actual, expected):
    scale = expected.abs().max().item()
    assert scale > 0
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * scale)


def converted_classifier(net, tmp_path, backbone_overrides=None):
    src = save_authors_checkpoint(net, tmp_path / 'res50_cam.pth')
    dst = str(tmp_path / 'cam_converted.pth')
    convert_file('cam', src, dst)
    cfg = load_config(CAM_CONFIG)
    cfg.model.backbone.update(backbone_overrides or {})
    return build_inference_model(cfg, dst, what='classifier')  # strict


def project_cam(model, pair):
    """CAM from the project's CAM protocol, assembled as the authors' ``CAM.forward``."""
    maps = torch.relu(class_maps(model.cam_features(pair), model.cam_weight))
    return maps[0] + maps[1].flip(-1)


def test_converted_classifier_gives_the_authors_cam_and_logits(authors_cam, tmp_path):
    model = converted_classifier(authors_cam, tmp_path)
    image = torch.randn(3, 64, 80, generator=torch.Generator().manual_seed(3))
    pair = torch.stack([image, image.flip(-1)])
    with torch.no_grad():
        expected_cam = authors_cam.cam(pair)
        actual_cam = project_cam(model, pair)
        assert expected_cam.shape == (20, 4, 5)  # output stride 16
        assert_close(actual_cam, expected_cam)
        assert_close(model.logits(pair), authors_cam(pair))
        assert actual_cam.max() > 0  # the maps are not trivially zero


def test_authors_stride8_classifier_needs_contract_dilation(tmp_path):
    """AdvCAM's ``Net(stride=8)`` leaves the first block of layer3/4 undilated: mmseg's ``contract_dilation``."""
    torch.manual_seed(2)
    net = randomize_(CAMNet(stride=8), seed=2)
    image = torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(4))
    pair = torch.stack([image, image.flip(-1)])
    stride8 = dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 2))
    with torch.no_grad():
        expected = net.cam(pair)
        assert expected.shape == (20, 8, 8)
        contracted = project_cam(converted_classifier(net, tmp_path, dict(stride8, contract_dilation=True)), pair)
        all_dilated = project_cam(converted_classifier(net, tmp_path, stride8), pair)
    assert_close(contracted, expected)
    assert not torch.allclose(all_dilated, expected, rtol=1e-2, atol=1e-2 * expected.abs().max().item())


def converted_irnet(net, tmp_path):
    src = save_authors_checkpoint(net, tmp_path / 'res50_irn.pth')
    dst = str(tmp_path / 'irn_converted.pth')
    conversion = convert_file('irn', src, dst)
    cfg = load_config(IRN_CONFIG)
    cfg.model.test_pad_size = PAD_SIZE
    return build_inference_model(cfg, dst, what='IRNet'), conversion


def test_converted_irnet_gives_the_authors_edge_map_and_displacement(authors_irn, tmp_path):
    model, conversion = converted_irnet(authors_irn, tmp_path)
    mean_shift = authors_irn.mean_shift.running_mean.view(2, 1, 1)
    assert torch.equal(conversion.extras['mean_displacement'], authors_irn.mean_shift.running_mean)
    assert sorted(conversion.dropped) == ['disp_target', 'path_indices0', 'path_indices1']
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        # the raw branches on a size that is not a multiple of 16 (the crops of both branches matter)
        batch = torch.randn(2, 3, 70, 90, generator=generator)
        expected_edge, expected_dp = authors_irn(batch)  # eval: the MeanShift is subtracted
        edge, displacement = model.edge_and_displacement_logits(batch)
        assert edge.shape == expected_edge.shape == (2, 1, 18, 23)
        assert_close(edge, expected_edge)
        assert_close(displacement - mean_shift, expected_dp)
        # IRN's EdgeDisplacement: padded pair of the image and its flip, flip-averaged boundary
        image = torch.randn(3, 70, 90, generator=generator)
        expected_boundary, expected_field = authors_irn.edge_displacement(
            torch.stack([image, image.flip(-1)]), crop_size=PAD_SIZE)
        boundary, field = model.boundary_and_displacement(image)
    assert expected_boundary.shape == (1, 18, 23)  # IRN keeps the channel
    assert_close(boundary, expected_boundary[0])
    assert_close(field - mean_shift, expected_field)
    assert boundary.std() > 1e-3  # a boundary map that varies, not a constant


def test_aliases_must_hold_the_tensor_they_alias(authors_cam):
    state_dict = dict(authors_cam.state_dict())
    state_dict['stage2.0.0.conv1.weight'] = state_dict['stage2.0.0.conv1.weight'] + 1
    with pytest.raises(AuthorsCheckpointError, match=r'stage2\.0\.0\.conv1\.weight should alias '
                                                     r'resnet50\.layer2\.0\.conv1\.weight'):
        convert_authors_state_dict(state_dict, 'cam', source='edited.pth')


def test_aliases_alone_are_enough(authors_cam):
    """A checkpoint with only the ``stage*`` / ``backbone.N`` copies converts to the same tensors."""
    full = convert_authors_state_dict(authors_cam.state_dict(), 'cam')
    aliases_only = {key: value for key, value in authors_cam.state_dict().items()
                    if not key.startswith('resnet50.')}
    converted = convert_authors_state_dict(aliases_only, 'cam')
    assert converted.state_dict.keys() == full.state_dict.keys()
    assert all(torch.equal(converted.state_dict[k], full.state_dict[k]) for k in full.state_dict)


def test_unknown_and_missing_keys_are_named(authors_cam):
    state_dict = dict(authors_cam.state_dict())
    state_dict['resnet50.fc.weight'] = torch.zeros(1000, 2048)
    with pytest.raises(AuthorsCheckpointError, match=r'src\.pth: 1 keys .* resnet50\.fc\.weight'):
        convert_authors_state_dict(state_dict, 'cam', source='src.pth')
    removed = ('resnet50.layer3.5.bn2.', 'classifier.weight')  # and every alias of them
    state_dict = {key: value for key, value in authors_cam.state_dict().items()
                  if not canonical_key(key, 'cam').startswith(removed)}
    with pytest.raises(AuthorsCheckpointError, match='missing') as error:
        convert_authors_state_dict(state_dict, 'cam', source='src.pth')
    for key in ('classifier.weight', 'resnet50.layer3.5.bn2.running_var', 'resnet50.layer3.5.bn2.weight'):
        assert key in str(error.value)


def test_wrong_kind_is_named(authors_irn):
    with pytest.raises(AuthorsCheckpointError, match="looks like the authors' 'irn' checkpoint, not 'cam'"):
        convert_authors_state_dict(authors_irn.state_dict(), 'cam', source='res50_irn.pth')


def test_missing_batchnorm_counters_are_filled(authors_cam, tmp_path):
    """Checkpoints saved before torch 0.4.1 have no ``num_batches_tracked``: filled, still loads strictly."""
    state_dict = {k: v for k, v in authors_cam.state_dict().items() if not k.endswith('num_batches_tracked')}
    conversion = convert_authors_state_dict(state_dict, 'cam')
    assert len(conversion.filled) == 53 and all(k.endswith('num_batches_tracked') for k in conversion.filled)
    assert conversion.state_dict['backbone.bn1.num_batches_tracked'] == 0


def test_tool_converts_end_to_end(authors_irn, tmp_path):
    src = save_authors_checkpoint(authors_irn, tmp_path / 'res50_irn.pth')
    dst = str(tmp_path / 'out' / 'irn.pth')
    result = run_tool(['tools/convert_checkpoint.py', 'irn', src, dst, '--config', IRN_CONFIG])
    assert 'resnet50.* -> backbone.* (318 tensors)' in result.stdout
    assert 'fc_dp7.* -> displacement_branch.fuse_fine.* (4 tensors)' in result.stdout
    assert 'dropped path_indices0, path_indices1' in result.stdout
    assert f'loads strictly into the model of {IRN_CONFIG}' in result.stdout
    state_dict, meta = read_state_dict(dst)
    assert meta['source_sha256'] == file_sha256(src) and meta['kind'] == 'irn'
    assert meta['mean_displacement'] == pytest.approx(authors_irn.mean_shift.running_mean.tolist())
    expected = convert_authors_state_dict(authors_irn.state_dict(), 'irn').state_dict
    assert state_dict.keys() == expected.keys()
    assert all(torch.equal(state_dict[k], expected[k]) for k in expected)
    # a rerun leaves the output alone; another source over it is refused without --force
    assert 'nothing to do' in run_tool(['tools/convert_checkpoint.py', 'irn', src, dst]).stdout
    other = save_authors_checkpoint(authors_irn_net(seed=9), tmp_path / 'other_irn.pth')
    refused = run_tool(['tools/convert_checkpoint.py', 'irn', other, dst], check=False)
    assert refused.returncode != 0 and '--force' in refused.stderr and dst in refused.stderr
    assert read_state_dict(dst)[1]['source_sha256'] == meta['source_sha256']
