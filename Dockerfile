# syntax=docker/dockerfile:1
#
# Ferrotel image: a drop-in for otel/opentelemetry-collector(-contrib). Same entrypoint
# style, same config path (/etc/otelcol/config.yaml), same ports, same non-root user id.
#
#   docker build -t ferrotel .
#   docker run --rm -p 4317:4317 -p 4318:4318 -p 8888:8888 -p 13133:13133 ferrotel
#
# Two ways to the same image:
#   - this file builds from source in the official Rust image (needs a registry for
#     rust:*-bookworm and crates.io);
#   - Dockerfile.prebuilt packages a binary built outside Docker, the way the Go collector's
#     release images package goreleaser's binaries, and needs no registry at all
#     (ci/docker/build-image.sh stages it; CI builds and tests the image that way).
# Both stage the runtime files with ci/docker/stage-rootfs.sh and end in the same runtime
# stage, `FROM scratch` (tests/e2e/image.rs checks the two stages are identical).
#
# Runtime: scratch plus a dynamically linked glibc binary and the libraries it links (what
# gcr.io/distroless/cc provides: glibc, libgcc_s, the loader), CA certificates, tzdata,
# /etc/passwd with user 10001; no shell, no package manager. The allocator is mimalloc,
# linked in (src/main.rs). Not a static musl binary: the pprof extension's CPU profiler
# unwinds stacks from a signal handler with libgcc's unwinder, the configuration it is
# tested with on glibc.
# Image size: see the README (measured with `docker images`).
#
# BuildKit (the default builder since Docker 23) keeps the cargo registry and the compiled
# dependencies in cache mounts, so a rebuild after a source change recompiles only Ferrotel's
# own crates.

# The compiler src/startup.order was profiled with (its header; symbol names depend on the
# compiler version, and build.rs warns when they differ). Any version from the workspace's
# rust-version (1.90) up builds the same collector.
ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-bookworm AS build
# No DWARF in the image's binary (the workspace's release profile keeps line tables for local
# profiling: 110 MB instead of 25 MB); the symbol table stays, so pprof profiles still name
# every function. Fat LTO in one codegen unit: 4.5 MB less code and 2-3 MB less idle RSS than
# the workspace's thin LTO, at the same speed (bench/README.md, 2026-12-03), for a longer
# build (14 min from scratch on 2 cores); the workspace keeps thin LTO for quicker local and
# CI builds. build.rs lays the start-up code out together and packs the relocations (idle
# RSS 14 -> 6.4 MB); src/startup.order lists the names of this profile's build, so keep the
# four settings below in step with bench/startup-order/generate.sh.
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    CARGO_PROFILE_RELEASE_LTO=fat \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin ferrotel \
    && ci/docker/stage-rootfs.sh target/release/ferrotel /stage

# The runtime stage: identical in Dockerfile.prebuilt.
FROM scratch AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Ferrotel" \
      org.opencontainers.image.description="An OpenTelemetry Collector distribution in Rust, a drop-in for otel/opentelemetry-collector(-contrib)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /stage/rootfs/ /
# the default file_storage directory, owned by the runtime user, so a named volume mounted
# there starts writable
COPY --from=build --chown=10001:10001 /stage/rootfs/var/lib/otelcol /var/lib/otelcol
USER 10001
# OTLP gRPC, OTLP HTTP, own metrics, health_check
EXPOSE 4317 4318 8888 13133
# the health_check extension of the config at the image's config path (default :13133)
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/ferrotel", "healthcheck", "--config=/etc/otelcol/config.yaml"]
ENTRYPOINT ["/ferrotel"]
CMD ["--config=/etc/otelcol/config.yaml"]
