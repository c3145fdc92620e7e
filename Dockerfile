# The service as it runs in production: gunicorn, CDS_PROFILE=production, as a non-root user.
# Mount the trusted-issuers file (README, section "Trust") at /etc/cds-service/trusted-issuers.yaml,
# or point CDS_TRUSTED_ISSUERS elsewhere; without it the service refuses to start.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CDS_PROFILE=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    CDS_RULE_PACKS=/app/cards \
    CDS_SQLITE_PATH=/var/lib/cds-service/cds.sqlite3 \
    CDS_TRUSTED_ISSUERS=/etc/cds-service/trusted-issuers.yaml
RUN groupadd --system --gid 10001 cds \
    && useradd --system --uid 10001 --gid cds --home-dir /app --no-create-home --shell /usr/sbin/nologin cds \
    && mkdir -p /app /var/lib/cds-service /etc/cds-service \
    && chown cds:cds /var/lib/cds-service
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels cds-service && rm -rf /wheels
COPY cards /app/cards
WORKDIR /app
USER cds
VOLUME ["/var/lib/cds-service"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"
CMD ["gunicorn", "-c", "python:cds_service.gunicorn_conf", "cds_service.wsgi:app"]
