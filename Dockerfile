# The serving image: the champion's bundle behind `serving.app`, as `make serve` runs it.
#
#   make repro                       # produces models/champion/
#   docker build -t loanrisk-serve .
#   docker run --rm -p 8000:8000 loanrisk-serve
#   docker run --rm -p 8000:8000 -e MLFLOW_TRACKING_URI=http://mlflow:5000 \
#       -e LOANRISK_MODEL_URI=models:/loan-default-risk@champion loanrisk-serve
#
# Multi-stage: the builder installs serving/requirements.lock (what the service imports,
# hash-pinned at requirements.lock's versions; no DVC, matplotlib or test tools) and the
# package into a virtual environment; the runtime stage holds that environment, the code
# the service reads (serving/, the declaration, params.yaml) and the bundle, and runs as an
# unprivileged user. The bundle is verified (SHA-256 of every file) at start-up: a tampered
# one leaves the service live but not ready (GET /health/ready says why).
#
# Build arguments:
#   BASE    the Python 3.11 base of both stages (python:3.11-slim; `make image-test` builds
#           on a local Debian bookworm made by scripts/container/base.sh: no registry there)
#   WHEELS  a directory of wheels mounted into the build (podman build -v DIR:/wheels
#           --build-arg WHEELS=/wheels): install from it alone, without the package index
ARG BASE=python:3.11-slim

FROM ${BASE} AS builder
ARG WHEELS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY serving/requirements.lock /build/serving/requirements.lock
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet --require-hashes --no-deps --only-binary :all: \
        ${WHEELS:+--no-index --find-links "$WHEELS"} -r /build/serving/requirements.lock
COPY pyproject.toml README.md /build/
COPY src /build/src
RUN /opt/venv/bin/pip install --quiet --no-deps ${WHEELS:+--no-index --find-links "$WHEELS"} \
        /build

FROM ${BASE}
RUN useradd --create-home --uid 10001 --user-group serve
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY serving /app/serving
COPY datasets /app/datasets
COPY params.yaml /app/params.yaml
COPY models/champion /app/models/champion
USER 10001:10001
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    LOANRISK_MODEL_URI=/app/models/champion \
    LOANRISK_CAPTURE_DIR=/tmp/captures \
    MLFLOW_DISABLE_TELEMETRY=true
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"]
CMD ["uvicorn", "--factory", "serving.app:factory", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log"]
