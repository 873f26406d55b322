"""Métriques Prometheus : requêtes, latences, audio traité, jetons, états des modèles, GPU."""

import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from app.models.base import ModelState

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
VLLM_TOKENS = re.compile(r"^vllm:(prompt|generation)_tokens_total(?:\{[^}]*\})?\s+([0-9.eE+]+)", re.M)


class GatewayMetrics:
    def __init__(self, models: Any, gpu: Any = None):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "passerelle_requests", "Requêtes HTTP par route, modèle et statut",
            ["route", "model", "status"], registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "passerelle_errors", "Réponses d'erreur (statut >= 400) par route et modèle",
            ["route", "model", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "passerelle_request_duration_seconds", "Durée des requêtes (jusqu'au dernier octet)",
            ["route", "model"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.audio_seconds = Counter(
            "passerelle_audio_seconds", "Secondes d'audio traitées", ["model", "task"], registry=self.registry
        )
        self.engine_tokens: dict[tuple[str, str], float] = {}
        self.registry.register(_StateCollector(self, models, gpu))

    def observe(self, route: str, model: str, status: int, seconds: float) -> None:
        self.requests.labels(route, model, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, model, str(status)).inc()
        self.latency.labels(route, model).observe(seconds)

    def set_engine_tokens(self, model: str, metrics_text: str) -> None:
        """Jetons comptés par un moteur vLLM enfant (lus sur son propre /metrics)."""
        totals = {"prompt": 0.0, "generation": 0.0}
        for kind, value in VLLM_TOKENS.findall(metrics_text):
            totals[kind] += float(value)
        self.engine_tokens[(model, "in")] = totals["prompt"]
        self.engine_tokens[(model, "out")] = totals["generation"]

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector:
    """Jauges lues au moment de la collecte : modèles (registre) et GPU (moniteur)."""

    def __init__(self, metrics: GatewayMetrics, models: Any, gpu: Any):
        self.metrics, self.models, self.gpu = metrics, models, gpu

    def collect(self):
        inflight = GaugeMetricFamily("passerelle_requests_in_flight", "Requêtes en cours", labels=["model"])
        queued = GaugeMetricFamily("passerelle_requests_queued", "Morceaux en attente d'un lot", labels=["model"])
        state = GaugeMetricFamily(
            "passerelle_model_state", "1 pour l'état courant du modèle", labels=["model", "state"]
        )
        for wrapper in self.models.wrappers():
            inflight.add_metric([wrapper.key], wrapper.inflight)
            queued.add_metric([wrapper.key], wrapper.queue_depth())
            for value in ModelState:
                state.add_metric([wrapper.key, value.value], 1.0 if wrapper.state is value else 0.0)
        yield from (inflight, queued, state)
        tokens = CounterMetricFamily(
            "passerelle_tokens", "Jetons traités par les moteurs", labels=["model", "direction"]
        )
        for (model, direction), value in self.metrics.engine_tokens.items():
            tokens.add_metric([model, direction], value)
        yield tokens
        yield from self._gpu_gauges()

    def _gpu_gauges(self):
        gauges = {
            "used": GaugeMetricFamily("passerelle_gpu_memory_used_bytes", "Mémoire GPU utilisée", labels=["gpu"]),
            "total": GaugeMetricFamily("passerelle_gpu_memory_total_bytes", "Mémoire GPU totale", labels=["gpu"]),
            "load": GaugeMetricFamily("passerelle_gpu_utilization_percent", "Charge du GPU", labels=["gpu"]),
            "temperature": GaugeMetricFamily("passerelle_gpu_temperature_celsius", "Température", labels=["gpu"]),
        }
        devices = self.gpu.snapshot().get("devices", []) if self.gpu is not None else []
        for device in devices:
            for field, gauge in gauges.items():
                if device.get(field) is not None:
                    gauge.add_metric([str(device["index"])], float(device[field]))
        yield from gauges.values()
