import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

import advcam_mm  # noqa: F401  (applies the allow-list)


def _message_hub_state():
    hub = MessageHub.get_instance('advcam_test_hub')
    for step in range(3):
        hub.update_scalar('train/loss', 1.0 / (step + 1))
        hub.update_scalar('train/lr', np.float64(0.1))
    hub.update_info('iter', 3)
    return hub.state_dict()


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    checkpoint = {
        'meta': {'epoch': 1, 'iter': 3, 'seed': np.int64(7)},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': _message_hub_state(),
        'array': np.arange(4, dtype=np.float32),
    }
    path = tmp_path / 'ckpt.pth'
    torch.save(checkpoint, path)
    loaded = torch.load(path, weights_only=True)
    history = loaded['message_hub']['log_scalars']['train/loss']
    assert history.current() == pytest.approx(1.0 / 3)
    np.testing.assert_array_equal(loaded['array'], np.arange(4, dtype=np.float32))


class _Exploit:
    def __reduce__(self):
        return (os.system, ('echo should-never-run',))


def test_foreign_globals_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': _Exploit()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path, weights_only=True)


class _AttributeProbe:
    """Pickles as getattr(HistoryBuffer, '__init__'): an attribute outside the allow-list."""

    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_methods(tmp_path):
    path = tmp_path / 'probe.pth'
    torch.save({'x': _AttributeProbe()}, path, pickle_protocol=2)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        torch.load(path, weights_only=True)
