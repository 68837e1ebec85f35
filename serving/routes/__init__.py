"""One router per concern, each reaching the service through `common.ServiceDep`.

`health` (liveness and readiness), `predict` (scoring and outcomes), `monitoring` (drift,
live quality, Prometheus metrics), `model` (what is served and its card), `admin` (reload),
`v2` (the Open Inference Protocol) and `mlflow` (MLflow's `/invocations`).
"""
