# The same install step as the README's: pip install the project, then `liveqa serve`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liveqa ./liveqa
COPY static ./static
RUN pip install --no-cache-dir . && useradd --system --home /app liveqa
USER liveqa
ENV LIVEQA_HOST=0.0.0.0 LIVEQA_PORT=8000
EXPOSE 8000
CMD ["liveqa", "serve", "--no-demo"]
