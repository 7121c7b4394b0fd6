# MLflow tracking server with the PostgreSQL backend store and served artifacts.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1
RUN pip install "mlflow>=3.17,<4" "psycopg2-binary>=2.9"
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
