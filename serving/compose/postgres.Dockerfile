# PostgreSQL 15 from Debian's packages, with the interface of the official `postgres` image
# that compose.yaml names by default (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, data in
# /var/lib/postgresql/data, port 5432): `make stack-test` builds it on the local Debian base
# where no registry can be reached.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# A fixed uid (the official image's), created before the package would make one of its own.
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql postgres \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        postgresql-15=15.* \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
COPY --chmod=755 postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER 999:999
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["pg_isready", "-h", "127.0.0.1"]
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
