# The unseal controller image: a static binary on a distroless, non-root base.
# docker build -t ghcr.io/seal-dev/unseal:0.1.0 .
# Base images are pinned by digest, so a re-pushed tag cannot change what is built; the
# tag beside it says what the digest is. The digests were taken from public build logs and
# digest-pinned Dockerfiles that agree on them, not pulled on the build machines (which
# cannot reach a registry): before a release, run scripts/check-image-pins where docker
# can reach the registries (--update re-pins to the tags' current digests).
FROM rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p unseal --bin unseal \
 && cp target/x86_64-unknown-linux-musl/release/unseal /unseal

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /unseal /unseal
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/unseal"]
CMD ["run"]
