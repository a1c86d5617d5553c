# AgentTrace in a container: build with the Rust toolchain, run from a slim image as an
# unprivileged user. Build: `docker build -t agenttrace .`  Run: see the README ("Container").

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p agenttrace \
    && strip target/release/agenttrace

FROM debian:bookworm-slim
# CA certificates for reporting to Sentry over HTTPS; nothing else is installed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown 1000:1000 /data && chmod 700 /data
COPY --from=build /src/target/release/agenttrace /usr/local/bin/agenttrace
ENV APP_ENV=production \
    AGENTTRACE_BIND=0.0.0.0:8080 \
    AGENTTRACE_DATA_DIR=/data \
    AGENTTRACE_HEALTHCHECK_ADDR=127.0.0.1:8080
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["agenttrace", "healthcheck"]
ENTRYPOINT ["agenttrace"]
CMD ["serve"]
