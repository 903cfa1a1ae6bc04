# syntax=docker/dockerfile:1
# One image per service, chosen by the build arg SERVICE (the package name, which is also the binary name):
#   docker build --build-arg SERVICE=order-service -t ecommerce/order-service .
# Stages: cargo-chef "planner" (dependency recipe from the manifests only), "builder" (dependencies cooked
# in their own cached layer, then the service itself), and a distroless runtime running as non-root.
ARG RUST_VERSION=1.95
ARG SERVICE=api-gateway

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
# cargo-chef from crates.io, pinned; cached in its own layer.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG SERVICE
RUN case "$SERVICE" in \
      api-gateway|auth-service|product-service|order-service|payment-service|event-bus) ;; \
      *) echo "SERVICE must be one of api-gateway auth-service product-service order-service payment-service event-bus (got '$SERVICE')" >&2; exit 1 ;; \
    esac
COPY --from=planner /build/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json -p "$SERVICE"
COPY . .
RUN cargo build --release --locked -p "$SERVICE" --bin "$SERVICE" \
    && install -D -m 0755 "target/release/$SERVICE" /out/service \
    && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="ecommerce-${SERVICE}" \
      org.opencontainers.image.source="ecommerce-rust" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
# The binary under one fixed path, so ENTRYPOINT and HEALTHCHECK stay exec-form without a shell.
COPY --from=builder /out/service /usr/local/bin/service
# Writable only for the embedded SQLite default; production sets DATABASE_URL=mongodb://…
COPY --from=builder --chown=65532:65532 /out/data /app/data
USER 65532:65532
ENV LOG_FORMAT=json
EXPOSE 3000 4001 4002 4003 4004 4005
# `--healthcheck` does GET http://127.0.0.1:$PORT/health and exits 0 on 200, else 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/service", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
