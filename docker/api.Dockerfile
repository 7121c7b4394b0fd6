# The coordinator: REST API + job scheduler (+ the runner processes that drive Ray Tune as drivers
# on this container's CPU-less Ray node). CPU torch is enough here: trials run on ray-worker nodes.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 SCALER_DATA_DIR=/data/scaler
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.*"
COPY pyproject.toml README.md ./
COPY scaler scaler
COPY search_spaces search_spaces
COPY workers workers
COPY api api
COPY dashboards dashboards
COPY cli cli
RUN pip install .
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=12 CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
# docker-compose joins the Ray cluster first; alone, this serves with a local Ray per job.
CMD ["scaler", "serve", "--host", "0.0.0.0", "--port", "8000"]
