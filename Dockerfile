# Build the castellan binary, then ship it on a slim Debian with the libraries it links.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev libclang-dev libxmlsec1-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release -p castellan

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 libxmlsec1 libxmlsec1-openssl libxml2 libxslt1.1 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/castellan /usr/local/bin/castellan
ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
ENTRYPOINT ["castellan"]
