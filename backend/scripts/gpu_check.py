"""Vérification sur une machine à GPU NVIDIA : NVML, moniteur, dépendances, placement.

    cd backend && python -m scripts.gpu_check

Affiche ce que la passerelle voit (GPU, mémoire, charge, pilote, incohérences de
dépendances) et échoue (code 1) si NVML ne voit aucun GPU ou si une dépendance est en
erreur. Sans GPU, il le dit et s'arrête (code 2).
"""

import json
import sys
import time

from app.monitoring.dependencies import inspect_dependencies
from app.monitoring.gpu import GPUMonitor


def main() -> int:
    monitor = GPUMonitor(interval_s=0.5)
    monitor.start()
    try:
        time.sleep(2)
        snapshot = monitor.snapshot()
        print(json.dumps(snapshot, indent=2, ensure_ascii=False))
        if not snapshot["available"]:
            print(f"Aucun GPU NVIDIA : {snapshot['reason']}")
            return 2
        history = monitor.history()
        print("échantillons par GPU :", {index: len(samples) for index, samples in history.items()})
        print("mémoire libre :", {index: monitor.free_memory(index) for index in monitor.device_indexes()})
    finally:
        monitor.stop()
    dependencies = inspect_dependencies(snapshot)
    for entry in dependencies:
        print(f"{entry['name']:<15} {entry['version'] or '-':<22} {entry['status']:<8} {'; '.join(entry['problems'])}")
    return 1 if any(entry["status"] == "error" for entry in dependencies) else 0


if __name__ == "__main__":
    sys.exit(main())
