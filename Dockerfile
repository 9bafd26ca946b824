# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY kb ./kb
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 rumorbot && mkdir /data && chown rumorbot /data
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    DATABASE_URL=sqlite:////data/rumorbot.db \
    PYTHONUNBUFFERED=1
USER rumorbot
VOLUME /data
ENTRYPOINT ["rumorbot"]
CMD ["run"]
