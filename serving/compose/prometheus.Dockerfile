# Prometheus from Debian's package, run like the official prom/prometheus image that
# compose.yaml names by default (the binary as entrypoint, flags as the command):
# `make stack-test` builds it on the local Debian base where no registry can be reached.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# A fixed uid, created before the package would make one of its own.
RUN groupadd --system --gid 990 prometheus \
    && useradd --system --uid 990 --gid 990 --home-dir /prometheus prometheus \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        prometheus=2.42.* \
    && rm -rf /var/lib/apt/lists/* /usr/share/prometheus/consoles* \
    && mkdir -p /prometheus && chown prometheus:prometheus /prometheus
USER 990:990
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
