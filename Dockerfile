# The unseal controller image: a static binary on a distroless, non-root base.
# docker build -t ghcr.io/seal-dev/unseal:0.1.0 .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p unseal --bin unseal \
 && cp target/x86_64-unknown-linux-musl/release/unseal /unseal

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /unseal /unseal
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/unseal"]
CMD ["run"]
