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
# for CPython 3.11; gcc is there only to compile processors/ with mypyc
# (scripts/build_native.py, into site-packages/.build/native) and is removed after.
COPY pyproject.toml README.md ./
COPY access ./access
COPY backtest ./backtest
COPY cli ./cli
COPY config ./config
COPY desk ./desk
COPY institutions ./institutions
COPY processors ./processors
COPY publisher ./publisher
COPY schemas ./schemas
COPY simulator ./simulator
COPY stack ./stack
COPY streams ./streams
COPY scripts/build_native.py ./scripts/
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install '.[native]' \
    && python scripts/build_native.py \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 chainbreaker \
    && mkdir -p /var/lib/chainbreaker/state /var/lib/chainbreaker/access \
    && chown -R chainbreaker /var/lib/chainbreaker

# Not root; the state directory belongs to the user so a fresh named volume inherits that.
USER chainbreaker
WORKDIR /home/chainbreaker
# The image is built compiled; require it, so a broken build cannot run slow unnoticed.
ENV CB_STATE_DIR=/var/lib/chainbreaker/state \
    CB_METRICS_BIND=0.0.0.0 \
    CB_NATIVE=require

EXPOSE 19464
CMD ["chainbreaker", "worker"]
