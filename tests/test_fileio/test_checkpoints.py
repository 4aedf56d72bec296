"""Strict checkpoint loading: what does not fit is refused with the keys listed, never loaded quietly."""
import logging
import os
import os.path as osp
import pickle

import pytest
import torch

from advcam_mm.stages.models import build_inference_model
from advcam_mm.stages.runner import load_config
from advcam_mm.fileio import CheckpointError, load_model_weights, read_state_dict, save_checkpoint
from advcam_mm.fileio.checkpoints import summarize_keys
from conftest import REPO_ROOT, TINY_CLASSIFIER_CONFIG
from helpers.irn_reference_nets import CAMNet, IRNNet, randomize_

CAM_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'cam_r50_5ep_voc12aug.py')
IRN_CONFIG = osp.join(REPO_ROOT, 'configs', 'advcam', 'irnet_r50_3ep_voc12aug.py')


def tiny_classifier(seed=0):
    torch.manual_seed(seed)
    return build_inference_model(load_config(TINY_CLASSIFIER_CONFIG), None)


def same_weights(model, state_dict):
    return all(torch.equal(value, state_dict[key]) for key, value in model.state_dict().items())


def test_runner_checkpoint_loads_strictly(trained_tiny_classifier):
    """A checkpoint the real mmengine Runner wrote (message hub and all) loads strictly, every weight."""
    config, checkpoint = trained_tiny_classifier
    model = build_inference_model(load_config(config), checkpoint, what='classifier')
    state_dict, meta = read_state_dict(checkpoint)
    assert same_weights(model, state_dict) and meta['epoch'] == 6
    assert not same_weights(tiny_classifier(), state_dict)


def test_checkpoint_without_backbone_is_refused(tmp_path):
    model = tiny_classifier()
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith('backbone.')}
    path = str(tmp_path / 'no_backbone.pth')
    save_checkpoint(path, kept, {})
    with pytest.raises(CheckpointError) as error:
        build_inference_model(load_config(TINY_CLASSIFIER_CONFIG), path, what='classifier')
    message = str(error.value)
    # BatchNorm's num_batches_tracked counters are not required (torch fills them, as for pre-0.4.1 files)
    backbone_keys = [k for k in model.state_dict() if k.startswith('backbone.') and 'num_batches' not in k]
    layer1 = [k for k in backbone_keys if k.startswith('backbone.layer1.')]
    assert message.startswith(f'{path}: the checkpoint does not fit the classifier (CAMClassifier)')
    assert f'missing in the checkpoint ({len(backbone_keys)} keys)' in message
    assert f'backbone.layer1.* ({len(layer1)} keys)' in message and 'backbone.conv1.weight' in message
    assert 'unexpected' not in message and 'convert_checkpoint' not in message


@pytest.mark.parametrize('kind,net_class,config,what', [('cam', CAMNet, CAM_CONFIG, 'classifier'),
                                                        ('irn', IRNNet, IRN_CONFIG, 'IRNet')])
def test_authors_layout_is_refused_with_the_converter_named(kind, net_class, config, what, tmp_path):
    """The reported bug: their ``resnet50.*`` keys used to load nothing but ``classifier.weight``, silently."""
    torch.manual_seed(0)
    path = str(tmp_path / f'res50_{kind}.pth')
    torch.save(randomize_(net_class()).state_dict(), path)
    with pytest.raises(CheckpointError) as error:
        build_inference_model(load_config(config), path, what=what)
    message = str(error.value)
    assert message.startswith(f'{path}: the checkpoint does not fit the {what}')
    assert 'missing in the checkpoint' in message and 'unexpected in the checkpoint' in message
    assert f'python tools/convert_checkpoint.py {kind} {path} <converted>.pth' in message


def test_shape_mismatch_names_key_and_shapes(tmp_path):
    state_dict = dict(tiny_classifier().state_dict())
    state_dict['classifier.weight'] = torch.zeros(20, 128, 1, 1)  # VOC's 20 classes, the model has 4
    path = str(tmp_path / 'twenty_classes.pth')
    save_checkpoint(path, state_dict, {})
    with pytest.raises(CheckpointError, match=r'classifier\.weight: shape \(20, 128, 1, 1\) in the checkpoint, '
                                              r'\(4, 128, 1, 1\) in the model'):
        load_model_weights(tiny_classifier(), path)


def test_non_strict_loads_what_fits_and_says_what_not(tmp_path, caplog):
    source = tiny_classifier(seed=1).state_dict()
    state_dict = {k: v for k, v in source.items() if not k.startswith('backbone.layer4.')}
    state_dict['classifier.weight'] = torch.zeros(20, 128, 1, 1)
    state_dict['extra.weight'] = torch.zeros(3)
    path = str(tmp_path / 'partial.pth')
    save_checkpoint(path, state_dict, {})
    model = tiny_classifier(seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logger = logging.getLogger('advcam_test_checkpoints')
    with caplog.at_level(logging.WARNING, logger=logger.name):
        report = load_model_weights(model, path, strict=False, logger=logger)
    loaded = model.state_dict()
    for key, value in loaded.items():
        expected = before[key] if key.startswith('backbone.layer4.') or key == 'classifier.weight' else source[key]
        assert torch.equal(value, expected), key
    assert sorted(report.missing) == sorted(k for k in source if k.startswith('backbone.layer4.')
                                            and 'num_batches_tracked' not in k)
    assert report.unexpected == ['extra.weight']
    assert report.mismatched == [('classifier.weight', (20, 128, 1, 1), (4, 128, 1, 1))]
    assert path in caplog.text and 'strict=False' in caplog.text
    assert 'backbone.layer4.0.* (' in caplog.text and 'extra.weight' in caplog.text


def test_bare_state_dict_with_ddp_prefix_loads(tmp_path):
    source = tiny_classifier(seed=1).state_dict()
    path = str(tmp_path / 'ddp.pth')
    torch.save({'module.' + k: v for k, v in source.items()}, path)
    model = tiny_classifier(seed=2)
    assert load_model_weights(model, path).missing == []
    assert same_weights(model, source)


class _Exploit:
    def __reduce__(self):
        return (os.system, ('echo should-never-run',))


def test_unreadable_checkpoints_name_the_file(tmp_path):
    evil = str(tmp_path / 'evil.pth')
    with open(evil, 'wb') as f:
        pickle.dump({'state_dict': _Exploit()}, f, protocol=2)
    with pytest.raises(CheckpointError, match=f'(?s){evil}: cannot be read as a checkpoint .*system'):
        read_state_dict(evil)
    listed = str(tmp_path / 'list.pth')
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(CheckpointError, match=f'{listed}: expected a state dict'):
        read_state_dict(listed)
    optimizer_only = str(tmp_path / 'optimizer.pth')
    torch.save({'optimizer': {'lr': 0.1}}, optimizer_only)
    with pytest.raises(CheckpointError, match=f'{optimizer_only}: no state dict .*optimizer'):
        read_state_dict(optimizer_only)
    with pytest.raises(FileNotFoundError, match='nowhere.pth: checkpoint not found'):
        read_state_dict(str(tmp_path / 'nowhere.pth'))


def test_summarize_keys_groups_by_the_deepest_prefix_that_stays_short():
    few = ['b.x', 'a.y']
    assert summarize_keys(few) == 'a.y, b.x'
    keys = ['backbone.conv1.weight'] + [f'backbone.bn1.{n}' for n in 'abcde'] + \
        [f'backbone.layer1.{b}.conv{i}.weight' for b in range(3) for i in range(1, 4)] + ['head.w']
    assert summarize_keys(keys, limit=4) == ('backbone.bn1.* (5 keys), backbone.conv1.weight, '
                                             'backbone.layer1.* (9 keys), head.w')
    assert summarize_keys(keys, limit=10) == ('backbone.bn1.a, backbone.bn1.b, backbone.bn1.c, backbone.bn1.d, '
                                              'backbone.bn1.e, backbone.conv1.weight, backbone.layer1.0.* (3 keys), '
                                              'backbone.layer1.1.* (3 keys), backbone.layer1.2.* (3 keys), head.w')
    assert summarize_keys(keys, limit=1) == 'backbone.* (15 keys), ... (1 more groups)'
