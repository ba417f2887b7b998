"""The accelerator check of the memory statistics path (eventsvc/sampling.py) on a CUDA machine.

    python3 tools/device_check.py [OUT_DIR]

Loads sampling.py by itself (the device machine has torch and psutil, not eventsvc's other
dependencies), measures known CUDA allocations, and prints and writes the readings as JSON.
It asserts, because it is a check to run by hand, not a benchmark.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def load_sampling():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("sampling", HERE / "eventsvc" / "sampling.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sampling"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    sampling = load_sampling()
    results: dict[str, object] = {}
    with sampling.StatsContext() as before_torch:
        pass
    results["before_torch_imported"] = before_torch.as_measurement()
    assert before_torch.vram_peak is None, "no CUDA reading before any node imported torch"

    import torch

    assert torch.cuda.is_available(), "this check needs a CUDA device"
    results["device"] = torch.cuda.get_device_name()
    mib = 2**20

    kept = None
    with sampling.StatsContext() as allocating:
        kept = torch.empty(256 * mib, dtype=torch.uint8, device="cuda")  # kept: delta +256 MiB
        scratch = torch.empty(512 * mib, dtype=torch.uint8, device="cuda")  # freed: peak only
        del scratch
    results["allocate_256_keep_512_scratch"] = allocating.as_measurement()
    assert allocating.vram_delta == 256 * mib, allocating.vram_delta
    assert allocating.vram_peak >= 768 * mib, allocating.vram_peak

    with sampling.StatsContext() as freeing:
        del kept
    results["free_256"] = freeing.as_measurement()
    assert freeing.vram_delta == -256 * mib, freeing.vram_delta

    with sampling.StatsContext() as idle:
        pass
    results["idle"] = idle.as_measurement()
    assert idle.vram_delta == 0
    assert idle.overlapped is False

    release = threading.Event()

    def hold() -> None:
        with sampling.StatsContext() as other:
            release.wait(5)
        results["overlap_other"] = other.as_measurement()

    thread = threading.Thread(target=hold)
    thread.start()
    with sampling.StatsContext() as mine:
        release.set()
    thread.join()
    results["overlap_mine"] = mine.as_measurement()
    assert mine.overlapped
    assert results["overlap_other"]["overlapped"]
    results["update_mem_stats"] = sampling.update_mem_stats()
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if len(sys.argv) > 1:
        Path(sys.argv[1], "device_check.json").write_text(text)
    print("device check: all readings as expected")


if __name__ == "__main__":
    main()
