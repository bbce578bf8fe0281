"""Device names: ``auto`` falls back to the CPU, ``cuda`` without a GPU is a one-line error."""

import pytest
import torch

from contaffect.devices import resolve_device
from contaffect.errors import ConfigError


def test_auto_is_cuda_when_present_else_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="no GPU is available") as exc:
        resolve_device("cuda")
    assert "\n" not in str(exc.value)


def test_unknown_device_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown device 'gpu'") as exc:
        resolve_device("gpu")
    assert "\n" not in str(exc.value)
