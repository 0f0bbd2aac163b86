# The monitor as a service: SQLite under /app/storage by default (a volume), PostgreSQL through
# MONITOR_DATABASE_URL. The install and start steps are README.md's.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 monitor
WORKDIR /app

COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir '.[postgres]'

COPY sources.yaml ./
COPY storage/seed ./storage/seed
RUN mkdir -p storage/digests && chown -R monitor:monitor /app/storage

USER monitor
ENV MONITOR_METRICS_HOST=0.0.0.0
VOLUME ["/app/storage"]
EXPOSE 9108

# /healthz answers 200 only while the scheduler's dispatcher is running on time.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=5)"

CMD ["sh", "-c", "monitor init && exec monitor run --metrics-port 9108"]
