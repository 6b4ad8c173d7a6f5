# syntax=docker/dockerfile:1
# Build the castellan binary from the lockfile, then ship it on a slim Debian with the libraries
# it links, as an unprivileged user. The registry and target dir are BuildKit cache mounts, so a
# source change does not download or rebuild the dependencies.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev libclang-dev libxmlsec1-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p castellan && cp target/release/castellan /usr/local/bin/castellan

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 libxmlsec1 libxmlsec1-openssl libxml2 libxslt1.1 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/castellan --create-home castellan
COPY --from=build /usr/local/bin/castellan /usr/local/bin/castellan
USER castellan
WORKDIR /var/lib/castellan
ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 CMD ["castellan", "healthcheck"]
ENTRYPOINT ["castellan"]
