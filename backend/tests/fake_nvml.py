"""Un NVML factice (le strict nécessaire de pynvml) pour tester le moniteur GPU sans GPU."""

from types import SimpleNamespace

GIB = 1024**3


class FakeNVMLError(Exception):
    def __init__(self, value: int = 3):
        super().__init__(f"NVML factice : code {value}")
        self.value = value


class FakeNVML:
    """Le strict nécessaire de pynvml ; GPU 1 sans capteur de température ni mesure de puissance."""

    NVMLError = FakeNVMLError
    NVML_TEMPERATURE_GPU = 0
    NVML_ERROR_DRIVER_NOT_LOADED = 9

    def __init__(self, count: int = 2, init_error: int | None = None):
        self.count, self.init_error = count, init_error
        self.samples = self.shutdowns = 0
        self.broken = False

    def nvmlInit(self):
        if self.init_error is not None:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self):
        return "580.65.06"

    def nvmlSystemGetCudaDriverVersion(self):
        return 13000

    def nvmlDeviceGetCount(self):
        if self.broken:
            raise RuntimeError("NVML factice en panne")
        self.samples += 1
        return self.count

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        return "NVIDIA H100" if handle == 0 else b"NVIDIA L4"

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-{handle}"

    def nvmlDeviceGetMemoryInfo(self, handle):
        used = (handle + 1) * GIB
        return SimpleNamespace(total=80 * GIB, used=used, free=80 * GIB - used)

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=50 + handle, memory=10)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        if handle == 1:
            raise FakeNVMLError()
        return 40

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle == 1:
            raise FakeNVMLError()
        return 123_456

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 700_000

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [SimpleNamespace(pid=42, usedGpuMemory=GIB)] if handle == 0 else []
