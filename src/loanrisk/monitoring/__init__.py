"""Monitoring: the reference profile a model is trained with, and drift measured against it.

One definition serves three readers: the offline report (`pipelines/monitor.py`), the service's
`GET /drift` and its Prometheus counters, and the recording rules that compute drift across
replicas from those counters (`serving/prometheus/`).
"""
