"""Supervision de la passerelle : GPU (NVML), système (psutil) et cohérence des dépendances."""
