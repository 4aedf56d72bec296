"""The algorithm core imports without mmengine/mmcv/mmseg (STYLE: framework-free core)."""
import subprocess
import sys
import textwrap


def test_core_modules_import_without_openmmlab():
    code = textwrap.dedent('''
        import importlib, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('mmengine', 'mmcv', 'mmseg'):
                    raise ImportError('blocked: ' + name)
        sys.meta_path.insert(0, Block())
        import advcam_mm
        assert not advcam_mm.MMSEG_AVAILABLE
        for module in ('advcam', 'cam', 'crf', 'seeds', 'miou', 'pair_indices', 'affinity', 'random_walk',
                       'ir_label', 'cct_perturbations', 'consistency', 'size_groups'):
            importlib.import_module('advcam_mm.core.' + module)
        assert not any(name.split('.')[0] in ('mmengine', 'mmcv', 'mmseg') for name in sys.modules)
    ''')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
