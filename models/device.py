"""Device selection and mixed precision, the same rule everywhere: CUDA, else MPS, else CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from rai_audit.models.errors import InvalidConfigError
from rai_audit.models.options import DEVICES, Device, check_value

DEVICE_CHOICES = DEVICES


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the device to run on.

    Args:
        device: ``"auto"`` (or ``None``) picks CUDA when available, else Apple MPS, else CPU.
            ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` force a device.

    Raises:
        InvalidConfigError: the device is unknown or not available on this machine.
    """
    if isinstance(device, torch.device):
        return device
    name = check_value("the run", "device", Device(), device or "auto")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    base = name.split(":", 1)[0]
    if base == "cuda" and not torch.cuda.is_available():
        raise InvalidConfigError(
            f"device {device!r} was asked for but CUDA is not available here; "
            "use --device auto or --device cpu"
        )
    if base == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InvalidConfigError(
                f"device {device!r} was asked for but MPS is not available here; "
                "use --device auto or --device cpu"
            )
    return torch.device(name)


def module_device(module: torch.nn.Module) -> torch.device:
    """Where a module's parameters (else buffers) live; CPU for a module with neither."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def autocast_for(device: torch.device) -> Iterator[None]:
    """bf16 autocast on CUDA; a no-op elsewhere (CPU and MPS run in float32)."""
    if device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def describe_device(device: torch.device) -> str:
    """A human-readable device label for reports, e.g. ``cpu (2 threads)``."""
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{idx} ({torch.cuda.get_device_name(idx)}, bf16 autocast)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
