# Release image: build with the Rust toolchain, run on a slim Debian with only what the binary needs.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The `production` profile (Cargo.toml): whole-program optimisation for the media path.
RUN cargo build --profile production --locked -p remote-assist

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/remote-assist remote-assist
COPY --from=build /src/target/production/remote-assist /usr/local/bin/remote-assist
USER remote-assist
WORKDIR /var/lib/remote-assist
EXPOSE 8443 8080
ENTRYPOINT ["remote-assist"]
CMD ["serve"]
