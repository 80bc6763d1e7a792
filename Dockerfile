FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY csms ./csms
COPY api ./api
COPY charger_sim ./charger_sim
RUN pip install --no-cache-dir '.[postgres]'
EXPOSE 9000 8000
CMD ["sh", "-c", "csms migrate && exec csms serve"]
