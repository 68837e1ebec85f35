# The MLflow tracking server of compose.yaml: MLflow (requirements.lock's version) with the
# PostgreSQL driver, installed from serving/compose/mlflow-server.lock (hash-pinned).
# compose.yaml runs `mlflow server` on PostgreSQL with proxied artifact storage.
#   BASE    a Python 3.11 base (`make stack-test`: the local Debian base)
#   WHEELS  a directory of wheels mounted into the build: install from it alone
ARG BASE=python:3.11-slim

FROM ${BASE} AS builder
ARG WHEELS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY mlflow-server.lock /build/mlflow-server.lock
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet --require-hashes --no-deps --only-binary :all: \
        ${WHEELS:+--no-index --find-links "$WHEELS"} -r /build/mlflow-server.lock

FROM ${BASE}
RUN useradd --create-home --uid 10002 --user-group mlflow \
    && mkdir -p /mlartifacts && chown mlflow:mlflow /mlartifacts
COPY --from=builder /opt/venv /opt/venv
USER 10002:10002
WORKDIR /home/mlflow
ENV PATH=/opt/venv/bin:$PATH MLFLOW_DISABLE_TELEMETRY=true
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
    CMD ["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/health', timeout=2)"]
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
