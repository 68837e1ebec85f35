# The serving image: the champion's bundle behind `serving.app`, as `make serve` runs it.
#
#   make repro                       # produces models/champion/
#   docker build -t loanrisk-serve .
#   docker run --rm -p 8000:8000 loanrisk-serve
#
# Multi-stage: dependencies are installed from the hash-pinned lock in a builder stage; the
# runtime stage holds the virtual environment, the code, the declaration and the bundle, and
# runs as an unprivileged user. The bundle is verified (SHA-256 of every file) at start-up.
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --quiet uv==0.13.9
COPY requirements.lock pyproject.toml README.md /build/
COPY src /build/src
RUN /opt/venv/bin/uv pip sync --python /opt/venv/bin/python --require-hashes --compile-bytecode \
        /build/requirements.lock \
    && /opt/venv/bin/uv pip install --python /opt/venv/bin/python --no-deps /build

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 serve
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --chown=serve:serve serving /app/serving
COPY --chown=serve:serve datasets /app/datasets
COPY --chown=serve:serve params.yaml /app/params.yaml
COPY --chown=serve:serve models/champion /app/models/champion
USER serve
ENV PATH=/opt/venv/bin:$PATH \
    LOANRISK_MODEL_URI=/app/models/champion \
    LOANRISK_CAPTURE_DIR=/tmp/captures \
    MLFLOW_DISABLE_TELEMETRY=true
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s --start-period=30s \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"
CMD ["uvicorn", "--factory", "serving.app:factory", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log"]
