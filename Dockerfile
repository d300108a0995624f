# The chainbreaker image: the worker (with its case router) and the other `chainbreaker`
# commands. Used by docker-compose.yml; `docker build -t chainbreaker:local .` works alone too.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# Only what the package needs, so local state (.stack/, bench results) never enters the image.
# The pinned dependencies (confluent-kafka, rocksdict, fastavro, ...) ship manylinux wheels
# for CPython 3.11, so no compiler is needed.
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY schemas ./schemas
COPY processors ./processors
RUN pip install . \
    && useradd --system --create-home --uid 10001 chainbreaker \
    && mkdir -p /var/lib/chainbreaker/state \
    && chown -R chainbreaker /var/lib/chainbreaker

# Not root; the state directory belongs to the user so a fresh named volume inherits that.
USER chainbreaker
WORKDIR /home/chainbreaker
ENV CB_STATE_DIR=/var/lib/chainbreaker/state \
    CB_METRICS_BIND=0.0.0.0

EXPOSE 19464
CMD ["chainbreaker", "worker"]
