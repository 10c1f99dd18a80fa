# The unseal controller image: a static binary on a distroless, non-root base, for
# linux/amd64 and linux/arm64. No image is published: build and push your own (README,
# "The image"), e.g.
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     -t REGISTRY/unseal:0.1.0 --push .
# Each platform is built natively for its architecture (under QEMU emulation when the
# builder's machine has another): ring and jemalloc have C code, and musl-gcc is a native
# compiler. Base images are pinned by digest (the multi-platform index), so a re-pushed tag
# cannot change what is built; the tag beside it says what the digest is. The digests were
# taken from public build logs and digest-pinned Dockerfiles that agree on them, not pulled
# on the build machines (which cannot reach a registry): before a release, run
# scripts/check-image-pins where docker can reach the registries (--update re-pins to the
# tags' current digests).
FROM rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS build
# Set by BuildKit for each platform built (amd64 or arm64); a plain `docker build` on
# BuildKit sets it to the machine's own.
ARG TARGETARCH
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
RUN case "${TARGETARCH:-$(dpkg --print-architecture)}" in \
      amd64) echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported platform ${TARGETARCH}: build linux/amd64 or linux/arm64" >&2; exit 1 ;; \
    esac >/rust-target \
 && rustup target add "$(cat /rust-target)"
WORKDIR /src
COPY . .
# jemalloc for 64 KiB pages on arm64 (some arm64 kernels use them; it works on 4 KiB pages
# too). musl targets link statically; the build fails if the binary is not static.
RUN target="$(cat /rust-target)" \
 && if [ "$target" = aarch64-unknown-linux-musl ]; then export JEMALLOC_SYS_WITH_LG_PAGE=16; fi \
 && cargo build --release --locked --target "$target" -p unseal --bin unseal \
 && cp "target/$target/release/unseal" /unseal \
 && if ldd /unseal >/dev/null 2>&1; then echo "unseal is dynamically linked" >&2; exit 1; fi

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /unseal /unseal
# Non-root (distroless's nonroot user, as the Deployment's runAsUser). Nothing writes to
# the filesystem: run with a read-only root (the Deployment sets readOnlyRootFilesystem;
# `docker run --read-only` locally).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/unseal"]
CMD ["run"]
