"""Supervision d'un moteur lancé comme processus enfant (groupe de processus dédié)."""

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
from collections import deque
from pathlib import Path

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _child_setup() -> None:
    """Dans l'enfant : nouveau groupe de processus, et SIGTERM si la passerelle meurt."""
    os.setsid()
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildProcess:
    """Un processus enfant dont la sortie est gardée (fin en mémoire, tout dans un fichier)."""

    def __init__(self, process: asyncio.subprocess.Process, log_file: Path, tail_lines: int):
        self.process = process
        self.log_file = log_file
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self._pump = asyncio.create_task(self._pump_output())

    @classmethod
    async def spawn(cls, cmd: list[str], env: dict[str, str], log_file: Path, tail_lines: int = 200) -> "ChildProcess":
        log_file.parent.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            preexec_fn=_child_setup,
        )
        return cls(process, log_file, tail_lines)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def _pump_output(self) -> None:
        assert self.process.stdout is not None
        with self.log_file.open("ab") as sink:
            while line := await self.process.stdout.readline():
                sink.write(line)
                sink.flush()
                self.tail.append(line.decode("utf-8", "replace").rstrip())

    def last_lines(self, count: int = 15) -> str:
        return "\n".join(list(self.tail)[-count:])

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self, grace_s: float) -> None:
        """SIGTERM au groupe, puis SIGKILL après `grace_s` ; attend la fin de la sortie."""
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace_s)
        except TimeoutError:
            pass
        # Le groupe entier : les processus auxiliaires du moteur tiennent aussi la VRAM.
        self._signal_group(signal.SIGKILL)
        await self.process.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._pump, 5)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)
