# One image for every Roumu process; the command (or ROUMU_SERVICE) picks which one runs:
#   docker run roumu gateway | auth | accounts | ... | egov_sandbox | init
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ROUMU_BIND_HOST=0.0.0.0 \
    ROUMU_VAR_DIR=/data \
    ROUMU_KEYS_DIR=/keys

WORKDIR /app

# Dependencies first (pinned in pyproject.toml), so a code change reuses this layer.
COPY pyproject.toml ./
RUN mkdir -p shared gateway services && touch shared/__init__.py gateway/__init__.py services/__init__.py \
    && pip install . \
    && pip uninstall -y roumu \
    && rm -rf shared gateway services

COPY shared ./shared
COPY gateway ./gateway
COPY services ./services
COPY contracts ./contracts
COPY ops ./ops
# A fixed uid/gid (10001): Kubernetes runs the pods as that number (deploy/k8s, runAsNonRoot).
RUN groupadd --system --gid 10001 roumu && useradd --system --uid 10001 --gid roumu --home-dir /app --no-create-home roumu \
    && mkdir -p /data/tenant-exports /keys /nats-config /tombstones \
    && chown roumu:roumu /data /data/tenant-exports /keys /nats-config /tombstones

USER roumu
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["python", "-m", "ops.serve", "healthcheck"]
ENTRYPOINT ["python", "-m", "ops.serve"]
# With no argument, ROUMU_SERVICE names what to run.
CMD []
