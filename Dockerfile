FROM python:3.11-slim
WORKDIR /srv
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir "uv==0.13.9" \
 && uv pip install --system --no-cache -r requirements.lock
COPY app ./app
COPY migrations ./migrations
RUN uv pip install --system --no-cache --no-deps -e .
USER nobody
EXPOSE 8000
CMD ["ordergraph", "serve", "--migrate"]
