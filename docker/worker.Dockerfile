# A Ray node that runs trials on its GPUs: CUDA runtime, the CUDA build of torch, Scaler itself
# (trials import scaler/workers/search_spaces). Python and Ray match the api image's.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends software-properties-common curl \
    && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN pip install --index-url https://download.pytorch.org/whl/cu128 "torch==2.13.*"
COPY pyproject.toml README.md ./
COPY scaler scaler
COPY search_spaces search_spaces
COPY workers workers
COPY api api
COPY dashboards dashboards
COPY cli cli
RUN pip install .
# ray start … --block is given by docker-compose (head or worker)
CMD ["ray", "start", "--head", "--block"]
